/**
 * The checksums S3 verifies and stores: CRC32 (Node's zlib), CRC32C and CRC64NVME (the AWS SDK's
 * own implementations, @aws-sdk/checksums, so client and server agree bit for bit), SHA1, SHA256,
 * and Content-MD5. Values are base64 of the big-endian digest, as in the x-amz-checksum-* headers.
 */
import { Crc32c, Crc64Nvme } from "@aws-sdk/checksums/crc";
import { createHash, type Hash } from "node:crypto";
import { crc32 } from "node:zlib";
import { S3Error } from "./errors.js";

export const CHECKSUM_ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** The header that carries an algorithm's value: x-amz-checksum-crc32, … */
export const checksumHeader = (a: ChecksumAlgorithm) => `x-amz-checksum-${a.toLowerCase()}`;

export function parseAlgorithm(name: string): ChecksumAlgorithm {
  const upper = name.toUpperCase();
  if (!(CHECKSUM_ALGORITHMS as readonly string[]).includes(upper)) {
    throw new S3Error("InvalidRequest", `Value for x-amz-checksum-algorithm header is invalid: ${name} (use one of ${CHECKSUM_ALGORITHMS.join(", ")})`);
  }
  return upper as ChecksumAlgorithm;
}

export interface Hasher {
  update(data: Uint8Array): void;
  /** base64 of the digest */
  digest(): Promise<string>;
}

class Crc32Hasher implements Hasher {
  private value = 0;
  update(data: Uint8Array): void {
    this.value = crc32(data, this.value);
  }
  async digest(): Promise<string> {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(this.value >>> 0);
    return b.toString("base64");
  }
}

class NodeHasher implements Hasher {
  private readonly hash: Hash;
  constructor(name: string) {
    this.hash = createHash(name);
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<string> {
    return this.hash.digest("base64");
  }
}

class SdkHasher implements Hasher {
  constructor(private readonly impl: { update(d: Uint8Array): void; digest(): Promise<Uint8Array> }) {}
  update(data: Uint8Array): void {
    this.impl.update(data);
  }
  async digest(): Promise<string> {
    return Buffer.from(await this.impl.digest()).toString("base64");
  }
}

export function hasher(algorithm: ChecksumAlgorithm | "MD5"): Hasher {
  switch (algorithm) {
    case "CRC32":
      return new Crc32Hasher();
    case "CRC32C":
      return new SdkHasher(new Crc32c());
    case "CRC64NVME":
      return new SdkHasher(new Crc64Nvme());
    case "SHA1":
      return new NodeHasher("sha1");
    case "SHA256":
      return new NodeHasher("sha256");
    case "MD5":
      return new NodeHasher("md5");
  }
}

/** Digest length in bytes, to tell a malformed value (InvalidDigest) from a wrong one (BadDigest). */
const DIGEST_BYTES: Record<ChecksumAlgorithm | "MD5", number> = { CRC32: 4, CRC32C: 4, CRC64NVME: 8, SHA1: 20, SHA256: 32, MD5: 16 };

export function isWellFormed(algorithm: ChecksumAlgorithm | "MD5", base64: string): boolean {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(base64) && Buffer.from(base64, "base64").length === DIGEST_BYTES[algorithm];
}

/** S3's composite checksum of a multipart object: the checksum of the parts' raw checksums, "-N". */
export async function compositeChecksum(algorithm: ChecksumAlgorithm, partValues: string[]): Promise<string> {
  const h = hasher(algorithm);
  for (const v of partValues) h.update(Buffer.from(v, "base64"));
  return `${await h.digest()}-${partValues.length}`;
}
