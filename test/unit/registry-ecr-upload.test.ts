/**
 * ECR's blob upload answers each PATCH with 201 Created (the distribution spec says 202 Accepted),
 * and takes no monolithic PUT. No registry here behaves so, so a loopback server answers the way
 * ECR does (201 on PATCH), and the client must upload in chunks through it.
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../src/image/registry.js";

let server: Server;
let host: string;
const received: { method: string; url: string; status: number; bytes: number }[] = [];
let stored = Buffer.alloc(0);

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const answer = (status: number, headers: Record<string, string> = {}) => {
        received.push({ method: req.method!, url: req.url!, status, bytes: body.length });
        res.writeHead(status, { "docker-distribution-api-version": "registry/2.0", ...headers }).end();
      };
      if (req.method === "POST") return answer(202, { location: "/v2/imgfn-demo/blobs/uploads/u-1", range: "0-0" });
      if (req.method === "PATCH") {
        stored = Buffer.concat([stored, body]);
        return answer(201, { location: "/v2/imgfn-demo/blobs/uploads/u-1", range: `0-${stored.length - 1}` });
      }
      if (req.method === "PUT" && body.length === 0) return answer(201, { location: "/v2/imgfn-demo/blobs/sha256:x" });
      return answer(400);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  host = `127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("blob upload against ECR's answers", () => {
  it("accepts 201 on each PATCH, sends every chunk, and finishes with an empty PUT", async () => {
    const blob = Buffer.from("x".repeat(2500));
    const digest = "sha256:" + createHash("sha256").update(blob).digest("hex");
    const client = new RegistryClient(host, { chunkSize: 1000 });
    try {
      expect(await client.uploadBlob("imgfn-demo", digest, blob)).toBe(2500);
    } finally {
      await client.close();
    }
    expect(received.map((r) => `${r.method} ${r.status} ${r.bytes}`)).toEqual(["POST 202 0", "PATCH 201 1000", "PATCH 201 1000", "PATCH 201 500", "PUT 201 0"]);
    expect(received.at(-1)!.url).toContain(`digest=${encodeURIComponent(digest)}`);
    expect(stored.equals(blob)).toBe(true);
  });
});
