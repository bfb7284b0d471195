// A signed aws-chunked PutObject (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) as the SigV4
// streaming spec describes it: the request head signed by the SDK's own signer, each chunk
// signed here from the spec (not with the server's code), sent over a raw socket.
import { SignatureV4 } from "@smithy/signature-v4";
import { createHash, createHmac } from "node:crypto";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { LOCAL_CREDENTIALS, localS3Client } from "../../src/local/s3.js";
import { footprint, startLocalS3Fixture, type LocalS3Fixture } from "../helpers/local-s3.js";

let s3: LocalS3Fixture;
beforeAll(async () => {
  s3 = await startLocalS3Fixture(["chunks"]);
});
afterAll(async () => {
  await s3?.close();
});

class NodeSha256 {
  private h;
  constructor(private readonly secret?: Uint8Array | string) {
    this.h = secret ? createHmac("sha256", Buffer.from(secret as any)) : createHash("sha256");
  }
  update(d: Uint8Array | string) {
    this.h.update(typeof d === "string" ? Buffer.from(d) : d);
  }
  async digest() {
    return new Uint8Array(this.h.digest());
  }
  reset() {
    this.h = this.secret ? createHmac("sha256", Buffer.from(this.secret as any)) : createHash("sha256");
  }
}

const hex = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const hmac = (k: Buffer | string, d: string) => createHmac("sha256", k).update(d).digest();

/** Sends `data` as a signed aws-chunked PUT with `chunkSize` chunks; `tamper` alters one chunk's data after signing. */
async function signedChunkedPut(key: string, data: Buffer, opts: { chunkSize: number; trailer?: boolean; tamper?: boolean }): Promise<number> {
  const url = new URL(`${s3.server.endpoint}/chunks/${encodeURIComponent(key)}`);
  const date = new Date();
  const amzDate = date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const scope = `${day}/us-east-1/s3/aws4_request`;
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += opts.chunkSize) chunks.push(data.subarray(i, i + opts.chunkSize));
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((await import("node:zlib")).crc32(data) >>> 0);
  const trailerLine = `x-amz-checksum-crc32:${crc.toString("base64")}`;
  const signer = new SignatureV4({ credentials: LOCAL_CREDENTIALS, region: "us-east-1", service: "s3", sha256: NodeSha256 as any, uriEscapePath: false, applyChecksum: false });
  const headers: Record<string, string> = {
    host: url.host,
    "content-encoding": "aws-chunked",
    "x-amz-content-sha256": opts.trailer ? "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" : "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "x-amz-decoded-content-length": String(data.length),
    ...(opts.trailer ? { "x-amz-trailer": "x-amz-checksum-crc32" } : {}),
  };
  const signed = await signer.sign({ method: "PUT", protocol: "http:", hostname: url.hostname, port: Number(url.port), path: url.pathname, headers, query: {} }, { signingDate: date });
  const seed = /Signature=([0-9a-f]{64})/.exec(signed.headers.authorization)![1];
  const key4 = hmac(hmac(hmac(hmac(`AWS4${LOCAL_CREDENTIALS.secretAccessKey}`, day), "us-east-1"), "s3"), "aws4_request");
  let previous = seed;
  const parts: Buffer[] = [];
  for (const c of [...chunks, Buffer.alloc(0)]) {
    const sig = createHmac("sha256", key4).update(["AWS4-HMAC-SHA256-PAYLOAD", amzDate, scope, previous, hex(""), hex(c)].join("\n")).digest("hex");
    previous = sig;
    const body = opts.tamper && c.length ? Buffer.from(c).fill(0x21, 0, 1) : c;
    parts.push(Buffer.from(`${c.length.toString(16)};chunk-signature=${sig}\r\n`), body, Buffer.from(c.length ? "\r\n" : ""));
  }
  if (opts.trailer) {
    const tsig = createHmac("sha256", key4).update(["AWS4-HMAC-SHA256-TRAILER", amzDate, scope, previous, hex(`${trailerLine}\n`)].join("\n")).digest("hex");
    parts.push(Buffer.from(`${trailerLine}\r\nx-amz-trailer-signature:${tsig}\r\n\r\n`));
  } else parts.push(Buffer.from("\r\n"));
  const body = Buffer.concat(parts);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: "PUT", headers: { ...signed.headers, "content-length": String(body.length) } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode!));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function get(key: string): Promise<Buffer> {
  const client = localS3Client(s3.server.endpoint);
  const res = await client.send(new GetObjectCommand({ Bucket: "chunks", Key: key, ChecksumMode: "ENABLED" }));
  const out = Buffer.from(await res.Body!.transformToByteArray());
  client.destroy();
  return out;
}

describe("signed aws-chunked uploads", () => {
  const data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));

  it("stores a signed chunked body byte for byte (64 KB chunks)", async () => {
    expect(await signedChunkedPut("signed.bin", data, { chunkSize: 65536 })).toBe(200);
    expect((await get("signed.bin")).equals(data)).toBe(true);
  });

  it("stores a signed chunked body with a signed checksum trailer, and returns the checksum", async () => {
    expect(await signedChunkedPut("signed-trailer.bin", data, { chunkSize: 8192, trailer: true })).toBe(200);
    expect((await get("signed-trailer.bin")).equals(data)).toBe(true);
  });

  it("refuses a body whose chunk was changed after signing (403), writing nothing", async () => {
    const before = await footprint(s3.dir);
    expect(await signedChunkedPut("tampered.bin", data, { chunkSize: 65536, tamper: true })).toBe(403);
    expect(await footprint(s3.dir)).toEqual(before);
  });
});
