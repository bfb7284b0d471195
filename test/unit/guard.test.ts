// The rule every local server shares: only its own loopback host and origin.
import { describe, expect, it } from "vitest";
import { refusal } from "../../src/local/guard.js";

const req = (headers: Record<string, string>) => ({ headers });

describe("the local servers' Host/Origin guard", () => {
  it("answers its own loopback address or localhost with its port, with no Origin or its own", () => {
    for (const host of ["127.0.0.1:4566", "localhost:4566", "LOCALHOST:4566"]) expect(refusal(req({ host }), 4566)).toBeUndefined();
    expect(refusal(req({ host: "127.0.0.1:4566", origin: "http://127.0.0.1:4566" }), 4566)).toBeUndefined();
    expect(refusal(req({ host: "localhost:4566", origin: "http://localhost:4566" }), 4566)).toBeUndefined();
  });

  it("refuses other hosts (DNS rebinding), other ports, and a missing Host", () => {
    for (const host of ["evil.example", "evil.example:4566", "127.0.0.1:80", "127.0.0.2:4566", "[::1]:4566", "0.0.0.0:4566", "localhost"]) {
      expect(refusal(req({ host }), 4566), host).toMatchObject({ status: 403, reason: "host" });
    }
    expect(refusal(req({}), 4566)).toMatchObject({ reason: "host" });
  });

  it("refuses any other Origin, including null and https on the same host", () => {
    for (const origin of ["https://evil.example", "null", "https://127.0.0.1:4566", "http://127.0.0.1:4567", "http://localhost"]) {
      expect(refusal(req({ host: "127.0.0.1:4566", origin }), 4566), origin).toMatchObject({ status: 403, reason: "origin" });
    }
  });
});
