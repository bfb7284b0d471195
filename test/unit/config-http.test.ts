import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { effectiveCors, loadConfig, validateConfig } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";

const http = (value: unknown) => validateConfig({ http: value }, "/tmp").http;
const refused = (value: unknown) => {
  try {
    http(value);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(value)}`);
};

describe('config "http"', () => {
  it("is off by default; true means AWS_IAM; an object keeps its auth and CORS", () => {
    expect(validateConfig({}, "/tmp").http).toBe(false);
    expect(http(false)).toBe(false);
    expect(http(true)).toEqual({ auth: "AWS_IAM" });
    expect(http({})).toEqual({ auth: "AWS_IAM" });
    expect(http({ auth: "NONE" })).toEqual({ auth: "NONE" });
    expect(http({ auth: "NONE", cors: { allowOrigins: ["https://app.example.com", "http://localhost:3000"], maxAge: 60 } })).toEqual({
      auth: "NONE",
      cors: { allowOrigins: ["https://app.example.com", "http://localhost:3000"], maxAge: 60 },
    });
  });

  it("refuses what Lambda would refuse, naming the setting", () => {
    expect(refused("yes")).toContain('"http" must be true, false or an object');
    expect(refused({ auth: "IAM" })).toContain('"http.auth" must be "AWS_IAM"');
    expect(refused({ public: true })).toContain('"http" has unknown setting public');
    expect(refused({ cors: ["https://a.example"] })).toContain('"http.cors" must be an object');
    expect(refused({ cors: { allowOrigins: [] } })).toContain('"http.cors.allowOrigins" must be a list');
    expect(refused({ cors: { allowOrigins: ["https://a.example/path"] } })).toContain("(no path)");
    expect(refused({ cors: { allowOrigins: ["a.example"] } })).toContain("allowOrigins");
    expect(refused({ cors: { allowOrigins: ["*"], allowMethods: ["FETCH"] } })).toContain("allowMethods");
    expect(refused({ cors: { allowOrigins: ["*"], maxAge: 100000 } })).toContain("maxAge");
    expect(refused({ cors: { allowOrigin: ["*"] } })).toContain("unknown setting allowOrigin");
  });

  it("is read from imgfn.config.json like every other setting", () => {
    const dir = mkdtempSync(join(tmpdir(), "imgfn-config-http-"));
    writeFileSync(join(dir, "imgfn.config.json"), JSON.stringify({ app: "web", http: { auth: "NONE" } }));
    expect(loadConfig(dir).http).toEqual({ auth: "NONE" });
  });

  it("CORS defaults: GET and POST, content-type (and SigV4's headers for AWS_IAM), 300 s", () => {
    expect(effectiveCors({ auth: "NONE" })).toBeUndefined();
    expect(effectiveCors({ auth: "NONE", cors: { allowOrigins: ["*"] } })).toEqual({ allowOrigins: ["*"], allowMethods: ["GET", "POST"], allowHeaders: ["content-type"], maxAge: 300 });
    expect(effectiveCors({ auth: "AWS_IAM", cors: { allowOrigins: ["*"] } })!.allowHeaders).toEqual(["content-type", "authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"]);
    expect(effectiveCors({ auth: "AWS_IAM", cors: { allowOrigins: ["*"], allowHeaders: ["x-a"], allowMethods: ["POST"] } })).toMatchObject({ allowHeaders: ["x-a"], allowMethods: ["POST"] });
  });
});
