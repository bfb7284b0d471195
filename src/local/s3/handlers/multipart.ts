/**
 * Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
 * AbortMultipartUpload, ListParts, ListMultipartUploads. The object's ETag is S3's: the MD5 of the
 * parts' binary MD5s, then "-<number of parts>".
 */
import { createHash } from "node:crypto";
import { checksumHeader, compositeChecksum, hasher, parseAlgorithm } from "../checksums.js";
import { S3Error } from "../errors.js";
import { receiveDocument, receiveObject } from "../payload.js";
import { quoted, sendEmpty, sendXml, xmlDate, type S3Context, type S3Request } from "../request.js";
import type { PartMeta, StoredChecksum } from "../store.js";
import { parseXml, xmlDocument } from "../xml.js";
import { LOCAL_OWNER } from "./bucket.js";
import { objectHeadersFrom, validateKey } from "./object.js";

const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PART_NUMBER = 10_000;
const MAX_PART_BYTES = 5 * 1024 ** 3;

export function multipartETag(partMd5s: string[]): string {
  const h = createHash("md5");
  for (const m of partMd5s) h.update(Buffer.from(m, "hex"));
  return `${h.digest("hex")}-${partMd5s.length}`;
}

export async function createMultipartUpload(ctx: S3Context, r: S3Request): Promise<void> {
  const bucket = r.bucket!;
  const key = r.key!;
  validateKey(key);
  ctx.store.requireBucket(bucket);
  const algorithmName = r.header("x-amz-checksum-algorithm");
  const checksumAlgorithm = algorithmName ? parseAlgorithm(algorithmName) : undefined;
  const typeHeader = r.header("x-amz-checksum-type")?.toUpperCase();
  if (typeHeader !== undefined && typeHeader !== "FULL_OBJECT" && typeHeader !== "COMPOSITE") throw new S3Error("InvalidRequest", "Value for x-amz-checksum-type header is invalid.");
  // S3: CRC64NVME is always a full-object checksum; the others are composite unless asked
  const checksumType = checksumAlgorithm ? (checksumAlgorithm === "CRC64NVME" ? "FULL_OBJECT" : ((typeHeader as "FULL_OBJECT" | "COMPOSITE" | undefined) ?? "COMPOSITE")) : undefined;
  if (checksumType === "FULL_OBJECT" && (checksumAlgorithm === "SHA1" || checksumAlgorithm === "SHA256")) throw new S3Error("InvalidRequest", `The FULL_OBJECT checksum type cannot be used with the ${checksumAlgorithm} checksum algorithm.`);
  const upload = await ctx.store.createUpload({ bucket, key, ...objectHeadersFrom(r), checksumAlgorithm, checksumType });
  const headers: Record<string, string> = {};
  if (checksumAlgorithm) {
    headers["x-amz-checksum-algorithm"] = checksumAlgorithm;
    headers["x-amz-checksum-type"] = checksumType!;
  }
  sendXml(r, 200, xmlDocument("InitiateMultipartUploadResult", { Bucket: bucket, Key: key, UploadId: upload.uploadId }), headers);
}

function partNumberOf(r: S3Request): number {
  const v = r.query.get("partNumber") ?? "";
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > MAX_PART_NUMBER) throw new S3Error("InvalidArgument", `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`, { ArgumentName: "partNumber", ArgumentValue: v });
  return n;
}

export async function uploadPart(ctx: S3Context, r: S3Request): Promise<void> {
  const bucket = r.bucket!;
  const uploadId = r.query.get("uploadId")!;
  const partNumber = partNumberOf(r);
  if (r.header("x-amz-copy-source") !== undefined) throw new S3Error("NotImplemented", "UploadPartCopy is not implemented by the local S3");
  const upload = await ctx.store.upload(bucket, uploadId, r.key);
  const { temp, received } = await receiveObject(r, ctx.store, bucket, MAX_PART_BYTES);
  try {
    if (upload.checksumAlgorithm && received.checksum && received.checksum.algorithm !== upload.checksumAlgorithm) {
      throw new S3Error("InvalidRequest", `Checksum Type mismatch occurred, expected checksum Type: ${upload.checksumAlgorithm.toLowerCase()}, actual checksum Type: ${received.checksum.algorithm.toLowerCase()}`);
    }
    // an upload created with an algorithm gets each part's checksum even when the client sends none
    let checksum = received.checksum?.value;
    if (upload.checksumAlgorithm && checksum === undefined) {
      const h = hasher(upload.checksumAlgorithm);
      for await (const c of ctx.store.tempBytes(temp)) h.update(c);
      checksum = await h.digest();
    }
    const part = await ctx.store.putPart(bucket, uploadId, temp, { partNumber, size: received.size, etag: received.md5, lastModified: new Date().toISOString(), checksum });
    const headers: Record<string, string> = { etag: quoted(part.etag) };
    if (upload.checksumAlgorithm && checksum) headers[checksumHeader(upload.checksumAlgorithm)] = checksum;
    sendEmpty(r, 200, headers);
  } catch (err) {
    await ctx.store.discard(temp);
    throw err;
  }
}

const unquote = (s: string) => s.trim().replace(/^"|"$/g, "");

export async function completeMultipartUpload(ctx: S3Context, r: S3Request): Promise<void> {
  const bucket = r.bucket!;
  const key = r.key!;
  const uploadId = r.query.get("uploadId")!;
  const upload = await ctx.store.upload(bucket, uploadId, key);
  const { body } = await receiveDocument(r, 4 * 1024 * 1024);
  const doc = parseXml(body.toString("utf8"), "CompleteMultipartUpload");
  const requested: { PartNumber?: string; ETag?: string }[] = doc.Part ?? [];
  if (requested.length === 0) throw new S3Error("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema: name at least one Part");
  const stored = new Map((await ctx.store.listParts(bucket, uploadId)).map((p) => [p.partNumber, p]));
  const parts: PartMeta[] = [];
  let previous = 0;
  for (const p of requested) {
    const n = Number(p.PartNumber);
    if (!Number.isInteger(n) || n <= previous) throw new S3Error("InvalidPartOrder", undefined, { UploadId: uploadId });
    previous = n;
    const part = stored.get(n);
    if (!part || unquote(String(p.ETag ?? "")) !== part.etag) throw new S3Error("InvalidPart", undefined, { UploadId: uploadId, PartNumber: n, ETag: String(p.ETag ?? "") });
    parts.push(part);
  }
  for (const p of parts.slice(0, -1)) {
    if (p.size < MIN_PART_BYTES) throw new S3Error("EntityTooSmall", undefined, { ProposedSize: p.size, MinSizeAllowed: MIN_PART_BYTES, PartNumber: p.partNumber, ETag: quoted(p.etag) });
  }
  const algorithm = upload.checksumAlgorithm;
  const full = algorithm && upload.checksumType === "FULL_OBJECT" ? hasher(algorithm) : undefined;
  const temp = await ctx.store.writeTemp(
    bucket,
    (async function* () {
      for await (const c of ctx.store.partBytes(bucket, uploadId, parts)) {
        full?.update(c);
        yield c;
      }
    })(),
    Number.MAX_SAFE_INTEGER,
  );
  try {
    let checksum: StoredChecksum | undefined;
    if (algorithm && full) checksum = { algorithm, value: await full.digest(), type: "FULL_OBJECT" };
    else if (algorithm && parts.every((p) => p.checksum)) checksum = { algorithm, value: await compositeChecksum(algorithm, parts.map((p) => p.checksum!)), type: "COMPOSITE" };
    const claimed = algorithm ? r.header(checksumHeader(algorithm)) : undefined;
    if (claimed !== undefined && checksum && claimed !== checksum.value) throw new S3Error("BadDigest", `The ${algorithm} you specified did not match the calculated checksum.`);
    const meta = await ctx.store.commit(bucket, temp, {
      key,
      size: temp.size,
      etag: multipartETag(parts.map((p) => p.etag)),
      lastModified: new Date().toISOString(),
      contentType: upload.contentType,
      userMetadata: upload.userMetadata,
      headers: upload.headers,
      parts: parts.length,
      ...(checksum ? { checksum } : {}),
    });
    await ctx.store.removeUpload(bucket, uploadId);
    ctx.notify({ eventName: "ObjectCreated:CompleteMultipartUpload", bucket, key, size: meta.size, eTag: meta.etag }, r);
    const sums = checksum ? { [`Checksum${checksum.algorithm}`]: checksum.value, ChecksumType: checksum.type } : {};
    sendXml(r, 200, xmlDocument("CompleteMultipartUploadResult", { Location: `/${bucket}/${encodeURIComponent(key)}`, Bucket: bucket, Key: key, ETag: quoted(meta.etag), ...sums }));
  } catch (err) {
    await ctx.store.discard(temp);
    throw err;
  }
}

export async function abortMultipartUpload(ctx: S3Context, r: S3Request): Promise<void> {
  const uploadId = r.query.get("uploadId")!;
  await ctx.store.upload(r.bucket!, uploadId, r.key);
  await ctx.store.removeUpload(r.bucket!, uploadId);
  sendEmpty(r, 204);
}

export async function listParts(ctx: S3Context, r: S3Request): Promise<void> {
  const bucket = r.bucket!;
  const uploadId = r.query.get("uploadId")!;
  const upload = await ctx.store.upload(bucket, uploadId, r.key);
  const marker = Number(r.query.get("part-number-marker") ?? 0) || 0;
  const maxParts = Math.min(Number(r.query.get("max-parts") ?? 1000) || 1000, 1000);
  const all = (await ctx.store.listParts(bucket, uploadId)).filter((p) => p.partNumber > marker);
  const page = all.slice(0, maxParts);
  const truncated = all.length > page.length;
  sendXml(
    r,
    200,
    xmlDocument("ListPartsResult", {
      Bucket: bucket,
      Key: upload.key,
      UploadId: uploadId,
      Initiator: LOCAL_OWNER,
      Owner: LOCAL_OWNER,
      StorageClass: "STANDARD",
      PartNumberMarker: marker,
      NextPartNumberMarker: page.length ? page[page.length - 1].partNumber : marker,
      MaxParts: maxParts,
      IsTruncated: truncated,
      ChecksumAlgorithm: upload.checksumAlgorithm,
      ChecksumType: upload.checksumType,
      Part: page.map((p) => ({
        PartNumber: p.partNumber,
        LastModified: xmlDate(p.lastModified),
        ETag: quoted(p.etag),
        Size: p.size,
        ...(p.checksum && upload.checksumAlgorithm ? { [`Checksum${upload.checksumAlgorithm}`]: p.checksum } : {}),
      })),
    }),
  );
}

export async function listMultipartUploads(ctx: S3Context, r: S3Request): Promise<void> {
  const bucket = r.bucket!;
  const prefix = r.query.get("prefix") ?? "";
  const uploads = (await ctx.store.listUploads(bucket)).filter((u) => u.key.startsWith(prefix));
  sendXml(
    r,
    200,
    xmlDocument("ListMultipartUploadsResult", {
      Bucket: bucket,
      KeyMarker: "",
      UploadIdMarker: "",
      Prefix: prefix,
      MaxUploads: 1000,
      IsTruncated: false,
      Upload: uploads.map((u) => ({ Key: u.key, UploadId: u.uploadId, Initiator: LOCAL_OWNER, Owner: LOCAL_OWNER, StorageClass: "STANDARD", Initiated: xmlDate(u.initiated) })),
    }),
  );
}
