/**
 * A request body as S3 receives it: plain or aws-chunked, checked against what the client signed
 * (x-amz-content-sha256 or the chunk signatures), its Content-MD5 and its x-amz-checksum-* value
 * (header or trailer). Every check happens before the last byte is handed on, so a write that
 * fails one never commits.
 */
import { createHash } from "node:crypto";
import { S3Error } from "./errors.js";
import { CHECKSUM_ALGORITHMS, checksumHeader, hasher, isWellFormed, parseAlgorithm, type ChecksumAlgorithm, type Hasher } from "./checksums.js";
import { chunkedOptions, decodeAwsChunked, isStreaming, type Trailers } from "./chunked.js";
import type { S3Request } from "./request.js";
import type { TempFile, Store } from "./store.js";

/** S3's largest single PUT. */
export const MAX_PUT_BYTES = 5 * 1024 ** 3;

export interface ReceivedChecksum {
  algorithm: ChecksumAlgorithm;
  value: string;
}

export interface Received {
  /** md5 hex of the decoded bytes */
  md5: string;
  size: number;
  checksum?: ReceivedChecksum;
}

/** Which checksum the request carries (value now, in the trailer later, or only the algorithm). */
function expectedChecksum(r: S3Request): { algorithm: ChecksumAlgorithm; value?: string; inTrailer: boolean } | undefined {
  const given = CHECKSUM_ALGORITHMS.filter((a) => r.header(checksumHeader(a)) !== undefined);
  if (given.length > 1) throw new S3Error("InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.");
  const trailer = r.header("x-amz-trailer");
  if (given.length === 1) {
    const value = r.header(checksumHeader(given[0]))!;
    if (!isWellFormed(given[0], value)) throw new S3Error("InvalidRequest", `Value for ${checksumHeader(given[0])} header is invalid.`);
    return { algorithm: given[0], value, inTrailer: false };
  }
  if (trailer !== undefined) {
    const m = /^x-amz-checksum-([a-z0-9]+)$/.exec(trailer.trim().toLowerCase());
    if (!m) throw new S3Error("InvalidRequest", `x-amz-trailer "${trailer}" names no x-amz-checksum-* header`);
    return { algorithm: parseAlgorithm(m[1]), inTrailer: true };
  }
  const named = r.header("x-amz-sdk-checksum-algorithm") ?? r.header("x-amz-checksum-algorithm");
  return named ? { algorithm: parseAlgorithm(named), inTrailer: false } : undefined;
}

/**
 * The decoded body, verified as it streams; `result` is filled once it has been read to the end
 * (the iterator throws S3's error instead when a check fails).
 */
export function verifiedBody(r: S3Request, limit: number): { source: AsyncIterable<Buffer>; result: Received } {
  const result: Received = { md5: "", size: 0 };
  const { payloadHash } = r.signed;
  const streaming = isStreaming(payloadHash);
  const declared = Number(streaming ? r.header("x-amz-decoded-content-length") : r.header("content-length"));
  if (Number.isFinite(declared) && declared > limit) throw new S3Error("EntityTooLarge", undefined, { ProposedSize: declared, MaxSizeAllowed: limit });
  const contentMd5 = r.header("content-md5");
  if (contentMd5 !== undefined && !isWellFormed("MD5", contentMd5)) throw new S3Error("InvalidDigest", undefined, { "Content-MD5": contentMd5 });
  const expected = expectedChecksum(r);
  const trailers: Trailers = new Map();
  const raw = r.req as AsyncIterable<Buffer>;
  const decoded = streaming
    ? decodeAwsChunked(raw, chunkedOptions(payloadHash, { signingKey: r.signed.signingKey, amzDate: r.signed.amzDate, scope: r.signed.scope, seedSignature: r.signed.signature }), trailers)
    : raw;
  const sha256 = !streaming && /^[0-9a-f]{64}$/.test(payloadHash) ? createHash("sha256") : undefined;
  const md5 = createHash("md5");
  const sum: Hasher | undefined = expected ? hasher(expected.algorithm) : undefined;

  async function* source(): AsyncGenerator<Buffer> {
    let size = 0;
    for await (const c of decoded) {
      size += c.length;
      if (size > limit) throw new S3Error("EntityTooLarge", undefined, { MaxSizeAllowed: limit });
      md5.update(c);
      sha256?.update(c);
      sum?.update(c);
      yield c;
    }
    if (Number.isFinite(declared) && size !== declared) throw new S3Error("IncompleteBody");
    if (sha256 && sha256.digest("hex") !== payloadHash) throw new S3Error("XAmzContentSHA256Mismatch", undefined, { ClientComputedContentSHA256: payloadHash });
    const md5Bytes = md5.digest();
    if (contentMd5 !== undefined && md5Bytes.toString("base64") !== contentMd5) throw new S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.", { ExpectedDigest: contentMd5 });
    if (expected && sum) {
      const actual = await sum.digest();
      const claimed = expected.inTrailer ? trailers.get(checksumHeader(expected.algorithm)) : expected.value;
      if (expected.inTrailer && claimed === undefined) throw new S3Error("InvalidRequest", `the ${checksumHeader(expected.algorithm)} trailer named by x-amz-trailer was not received`);
      if (claimed !== undefined && claimed !== actual) throw new S3Error("BadDigest", `The ${expected.algorithm} you specified did not match the calculated checksum.`);
      result.checksum = { algorithm: expected.algorithm, value: actual };
    }
    result.md5 = md5Bytes.toString("hex");
    result.size = size;
  }
  return { source: source(), result };
}

/** Receives an object's bytes into a temp file of the bucket, verified. */
export async function receiveObject(r: S3Request, store: Store, bucket: string, limit = MAX_PUT_BYTES): Promise<{ temp: TempFile; received: Received }> {
  const { source, result } = verifiedBody(r, limit);
  const temp = await store.writeTemp(bucket, source, limit);
  return { temp, received: result };
}

/** Receives a small request document (XML) into memory, verified. */
export async function receiveDocument(r: S3Request, limit: number): Promise<{ body: Buffer; received: Received }> {
  const { source, result } = verifiedBody(r, limit);
  const chunks: Buffer[] = [];
  for await (const c of source) chunks.push(c);
  return { body: Buffer.concat(chunks), received: result };
}
