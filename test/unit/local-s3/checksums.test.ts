// The checksums the local S3 verifies, against the standard check values of "123456789".
import { describe, expect, it } from "vitest";
import { compositeChecksum, hasher, isWellFormed } from "../../../src/local/s3/checksums.js";
import { errorDocument } from "../../../src/local/s3/xml.js";
import { S3Error } from "../../../src/local/s3/errors.js";

const b64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");
async function digest(algorithm: Parameters<typeof hasher>[0], ...parts: string[]) {
  const h = hasher(algorithm);
  for (const p of parts) h.update(Buffer.from(p));
  return h.digest();
}

describe("checksums", () => {
  it("match the catalogue check values, fed in one piece or several", async () => {
    expect(await digest("CRC32", "123456789")).toBe(b64("cbf43926"));
    expect(await digest("CRC32C", "1234", "56789")).toBe(b64("e3069283"));
    expect(await digest("CRC64NVME", "12345", "6789")).toBe(b64("ae8b14860a799888"));
    expect(await digest("SHA1", "123456789")).toBe(b64("f7c3bc1d808e04732adf679965ccc34ca7ae3441"));
    expect(await digest("SHA256", "123", "456789")).toBe(b64("15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"));
  });

  it("tell a malformed value from a well-formed one", () => {
    expect(isWellFormed("CRC32", b64("cbf43926"))).toBe(true);
    expect(isWellFormed("CRC32", b64("cbf439"))).toBe(false);
    expect(isWellFormed("CRC64NVME", "not base64!")).toBe(false);
  });

  it("make S3's composite multipart checksum: the checksum of the parts' checksums, then -N", async () => {
    const parts = [await digest("CRC32", "part one"), await digest("CRC32", "part two")];
    const h = hasher("CRC32");
    for (const p of parts) h.update(Buffer.from(p, "base64"));
    expect(await compositeChecksum("CRC32", parts)).toBe(`${await h.digest()}-2`);
  });
});

describe("error documents", () => {
  it("are S3's XML with the code, message, details and request id", () => {
    const xml = errorDocument(new S3Error("NoSuchKey", undefined, { Key: "a&b<c>.jpg" }), "REQ1");
    expect(xml).toBe('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a&amp;b&lt;c&gt;.jpg</Key><RequestId>REQ1</RequestId><HostId>REQ1</HostId></Error>');
    expect(new S3Error("NoSuchKey").status).toBe(404);
    expect(new S3Error("SignatureDoesNotMatch").status).toBe(403);
    expect(new S3Error("InvalidRange").status).toBe(416);
  });
});
