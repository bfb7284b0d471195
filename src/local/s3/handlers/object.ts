/** Object calls: PutObject, GetObject / HeadObject (Range, conditions), DeleteObject, DeleteObjects, CopyObject. */
import { createHash } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { checksumHeader } from "../checksums.js";
import { NotModified, S3Error } from "../errors.js";
import { receiveDocument, receiveObject } from "../payload.js";
import { baseHeaders, httpDate, quoted, sendEmpty, sendXml, xmlDate, type S3Context, type S3Request } from "../request.js";
import type { ByteRange, ObjectMeta } from "../store.js";
import { parseXml, xmlDocument } from "../xml.js";

export const MAX_KEY_BYTES = 1024;
const MAX_USER_METADATA_BYTES = 2 * 1024;
const STORED_HEADERS = ["cache-control", "content-disposition", "content-encoding", "content-language", "expires"];
const DEFAULT_CONTENT_TYPE = "binary/octet-stream";

export function validateKey(key: string): void {
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) throw new S3Error("KeyTooLongError", undefined, { Size: Buffer.byteLength(key, "utf8"), MaxSizeAllowed: MAX_KEY_BYTES });
}

/** Content-Type, x-amz-meta-* and the other headers S3 keeps with an object. */
export function objectHeadersFrom(r: S3Request): Pick<ObjectMeta, "contentType" | "userMetadata" | "headers"> {
  const userMetadata: Record<string, string> = {};
  let metaBytes = 0;
  for (let i = 0; i < r.req.rawHeaders.length; i += 2) {
    const name = r.req.rawHeaders[i].toLowerCase();
    if (!name.startsWith("x-amz-meta-")) continue;
    const short = name.slice("x-amz-meta-".length);
    const value = r.req.rawHeaders[i + 1];
    userMetadata[short] = userMetadata[short] === undefined ? value : `${userMetadata[short]},${value}`;
    metaBytes += Buffer.byteLength(short) + Buffer.byteLength(value);
  }
  if (metaBytes > MAX_USER_METADATA_BYTES) throw new S3Error("MetadataTooLarge", `Your metadata headers exceed the maximum allowed metadata size (${MAX_USER_METADATA_BYTES} bytes)`);
  const headers: Record<string, string> = {};
  for (const h of STORED_HEADERS) {
    let v = r.header(h);
    // aws-chunked is how this request was framed, not how the object is encoded
    if (h === "content-encoding" && v !== undefined) v = v.split(",").map((s) => s.trim()).filter((s) => s && s !== "aws-chunked").join(",");
    if (v) headers[h] = v;
  }
  return { contentType: r.header("content-type") ?? DEFAULT_CONTENT_TYPE, userMetadata, headers };
}

/** The headers GetObject and HeadObject answer with. */
function objectResponseHeaders(r: S3Request, meta: ObjectMeta, withChecksum: boolean): Record<string, string> {
  const h: Record<string, string> = {
    etag: quoted(meta.etag),
    "last-modified": httpDate(meta.lastModified),
    "content-type": meta.contentType,
    "accept-ranges": "bytes",
    ...meta.headers,
  };
  for (const [k, v] of Object.entries(meta.userMetadata)) h[`x-amz-meta-${k}`] = v;
  if (meta.parts) h["x-amz-mp-parts-count"] = String(meta.parts);
  if (withChecksum && meta.checksum && r.header("x-amz-checksum-mode")?.toUpperCase() === "ENABLED") {
    h[checksumHeader(meta.checksum.algorithm)] = meta.checksum.value;
    h["x-amz-checksum-type"] = meta.checksum.type;
  }
  // response-* query parameters (presigned URLs) override the stored headers
  for (const name of ["content-type", "content-language", "expires", "cache-control", "content-disposition", "content-encoding"]) {
    const v = r.query.get(`response-${name}`);
    if (v !== undefined) h[name] = v;
  }
  return h;
}

function etagMatches(list: string, etag: string): boolean {
  return list.split(",").some((t) => {
    const tag = t.trim().replace(/^W\//, "");
    return tag === "*" || tag === quoted(etag) || tag === etag;
  });
}

const seconds = (iso: string) => Math.floor(new Date(iso).getTime() / 1000);
const dateSeconds = (v: string) => {
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.floor(t / 1000) : undefined;
};

/** RFC 7232 as S3 applies it: If-Match / If-Unmodified-Since → 412, If-None-Match / If-Modified-Since → 304. */
export function checkConditions(get: (name: string) => string | undefined, meta: ObjectMeta, names = { match: "if-match", noneMatch: "if-none-match", modifiedSince: "if-modified-since", unmodifiedSince: "if-unmodified-since" }, notModified = true): void {
  const ifMatch = get(names.match);
  const ifNoneMatch = get(names.noneMatch);
  const modified = seconds(meta.lastModified);
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, meta.etag)) throw new S3Error("PreconditionFailed", undefined, { Condition: "If-Match" });
  } else {
    const since = dateSeconds(get(names.unmodifiedSince) ?? "");
    if (since !== undefined && modified > since) throw new S3Error("PreconditionFailed", undefined, { Condition: "If-Unmodified-Since" });
  }
  const fail = (condition: string) => {
    if (notModified) throw new NotModified({ etag: quoted(meta.etag), "last-modified": httpDate(meta.lastModified) });
    throw new S3Error("PreconditionFailed", undefined, { Condition: condition });
  };
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, meta.etag)) fail("If-None-Match");
  } else {
    const since = dateSeconds(get(names.modifiedSince) ?? "");
    if (since !== undefined && modified <= since) fail("If-Modified-Since");
  }
}

/** A single `bytes=` range, or undefined for a missing or unparsable header (the whole object). */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  const unsatisfiable = () => new S3Error("InvalidRange", undefined, { RangeRequested: header, ActualObjectSize: size });
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== "" && Number(m[2]) < start) return undefined;
  if (start >= size) throw unsatisfiable();
  return { start, end };
}

export async function getObject(ctx: S3Context, r: S3Request): Promise<void> {
  const bucket = r.bucket!;
  const key = r.key!;
  let range: ByteRange | undefined;
  const opened = await ctx.store.openRead(bucket, key, (meta) => {
    checkConditions((n) => r.header(n), meta);
    range = parseRange(r.header("range"), meta.size);
    return range;
  });
  if (!opened) throw new S3Error("NoSuchKey", undefined, { Key: key });
  const { meta, stream, bytes } = opened;
  const headers = objectResponseHeaders(r, meta, range === undefined);
  const length = range ? range.end - range.start + 1 : meta.size;
  if (range) headers["content-range"] = `bytes ${range.start}-${range.end}/${meta.size}`;
  headers["content-length"] = String(length);
  r.res.writeHead(range ? 206 : 200, { ...baseHeaders(r.requestId), ...headers });
  if (r.method === "HEAD" || bytes) {
    stream?.destroy();
    r.res.end(r.method === "HEAD" ? undefined : bytes);
    return;
  }
  await pipeline(stream!, r.res).catch(() => r.res.destroy());
}

/** PutObject, plain or aws-chunked, with the checksums verified. */
export async function putObject(ctx: S3Context, r: S3Request): Promise<void> {
  const bucket = r.bucket!;
  const key = r.key!;
  validateKey(key);
  ctx.store.requireBucket(bucket);
  const described = objectHeadersFrom(r);
  const { temp, received } = await receiveObject(r, ctx.store, bucket);
  try {
    // conditional writes: If-None-Match: * (create only) and If-Match (replace only that version)
    const existing = ctx.store.head(bucket, key);
    const ifNoneMatch = r.header("if-none-match");
    if (ifNoneMatch !== undefined && existing && etagMatches(ifNoneMatch, existing.etag)) throw new S3Error("PreconditionFailed", undefined, { Condition: "If-None-Match" });
    const ifMatch = r.header("if-match");
    if (ifMatch !== undefined && (!existing || !etagMatches(ifMatch, existing.etag))) throw existing ? new S3Error("PreconditionFailed", undefined, { Condition: "If-Match" }) : new S3Error("NoSuchKey", undefined, { Key: key });
    const meta = await ctx.store.commit(bucket, temp, {
      key,
      size: received.size,
      etag: received.md5,
      lastModified: new Date().toISOString(),
      ...described,
      ...(received.checksum ? { checksum: { ...received.checksum, type: "FULL_OBJECT" as const } } : {}),
    });
    ctx.notify({ eventName: "ObjectCreated:Put", bucket, key, size: meta.size, eTag: meta.etag }, r);
    const headers: Record<string, string> = { etag: quoted(meta.etag) };
    if (meta.checksum) {
      headers[checksumHeader(meta.checksum.algorithm)] = meta.checksum.value;
      headers["x-amz-checksum-type"] = "FULL_OBJECT";
    }
    sendEmpty(r, 200, headers);
  } catch (err) {
    await ctx.store.discard(temp);
    throw err;
  }
}

export async function deleteObject(ctx: S3Context, r: S3Request): Promise<void> {
  const removed = await ctx.store.delete(r.bucket!, r.key!);
  if (removed) ctx.notify({ eventName: "ObjectRemoved:Delete", bucket: r.bucket!, key: r.key! }, r);
  sendEmpty(r, 204);
}

const MAX_DELETE_KEYS = 1000;

export async function deleteObjects(ctx: S3Context, r: S3Request): Promise<void> {
  const bucket = r.bucket!;
  ctx.store.requireBucket(bucket);
  const hasDigest = r.header("content-md5") !== undefined || [...r.query.keys(), ...Object.keys(r.req.headers)].some((h) => h.startsWith("x-amz-checksum-") || h === "x-amz-sdk-checksum-algorithm" || h === "x-amz-trailer");
  if (!hasDigest) throw new S3Error("InvalidRequest", "Missing required header for this request: Content-MD5 (or an x-amz-checksum-* header)");
  const { body } = await receiveDocument(r, 2 * 1024 * 1024);
  const doc = parseXml(body.toString("utf8"), "Delete");
  const objects: any[] = doc.Object ?? [];
  if (objects.length > MAX_DELETE_KEYS) throw new S3Error("MalformedXML", `a DeleteObjects request takes at most ${MAX_DELETE_KEYS} keys`);
  const quiet = String(doc.Quiet ?? "false").trim() === "true";
  const deleted: { Key: string }[] = [];
  const errors: { Key: string; Code: string; Message: string }[] = [];
  for (const o of objects) {
    const key = typeof o?.Key === "string" ? o.Key : undefined;
    if (key === undefined || key === "") {
      errors.push({ Key: "", Code: "InvalidArgument", Message: "every Object needs a Key" });
      continue;
    }
    if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
      errors.push({ Key: key, Code: "KeyTooLongError", Message: "Your key is too long" });
      continue;
    }
    if (await ctx.store.delete(bucket, key)) ctx.notify({ eventName: "ObjectRemoved:Delete", bucket, key }, r);
    deleted.push({ Key: key });
  }
  sendXml(r, 200, xmlDocument("DeleteResult", { ...(quiet ? {} : { Deleted: deleted }), Error: errors }));
}

/** "bucket/key" or "/bucket/key", URL-encoded, optionally "?versionId=…" (only "null" exists here). */
function parseCopySource(value: string): { bucket: string; key: string } {
  let v = value;
  const q = v.indexOf("?");
  if (q >= 0) {
    const version = new URLSearchParams(v.slice(q + 1)).get("versionId");
    if (version !== null && version !== "null") throw new S3Error("NoSuchVersion", "The specified version does not exist.");
    v = v.slice(0, q);
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(v);
  } catch {
    throw new S3Error("InvalidArgument", "Invalid copy source encoding", { ArgumentName: "x-amz-copy-source" });
  }
  if (decoded.startsWith("/")) decoded = decoded.slice(1);
  const slash = decoded.indexOf("/");
  if (slash <= 0 || slash === decoded.length - 1) throw new S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey", { ArgumentName: "x-amz-copy-source" });
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

export async function copyObject(ctx: S3Context, r: S3Request): Promise<void> {
  const bucket = r.bucket!;
  const key = r.key!;
  validateKey(key);
  ctx.store.requireBucket(bucket);
  const src = parseCopySource(r.header("x-amz-copy-source")!);
  const directive = (r.header("x-amz-metadata-directive") ?? "COPY").toUpperCase();
  if (directive !== "COPY" && directive !== "REPLACE") throw new S3Error("InvalidArgument", "Unknown metadata directive.", { ArgumentName: "x-amz-metadata-directive" });
  ctx.store.requireBucket(src.bucket);
  const source = ctx.store.head(src.bucket, src.key);
  if (!source) throw new S3Error("NoSuchKey", undefined, { Key: src.key });
  if (src.bucket === bucket && src.key === key && directive === "COPY") {
    throw new S3Error("InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
  }
  checkConditions((n) => r.header(n), source, { match: "x-amz-copy-source-if-match", noneMatch: "x-amz-copy-source-if-none-match", modifiedSince: "x-amz-copy-source-if-modified-since", unmodifiedSince: "x-amz-copy-source-if-unmodified-since" }, false);
  const described = directive === "REPLACE" ? objectHeadersFrom(r) : undefined;
  // the copy is one object of its own: its ETag is the MD5 of its bytes
  const md5 = createHash("md5");
  const opened = await ctx.store.openRead(src.bucket, src.key);
  if (!opened) throw new S3Error("NoSuchKey", undefined, { Key: src.key });
  const temp = await ctx.store.writeTemp(
    bucket,
    (async function* () {
      if (opened.bytes) {
        md5.update(opened.bytes);
        yield opened.bytes;
        return;
      }
      for await (const c of opened.stream!) {
        md5.update(c as Buffer);
        yield c as Buffer;
      }
    })(),
    Number.MAX_SAFE_INTEGER,
  );
  try {
    const from = opened.meta;
    const meta = await ctx.store.commit(bucket, temp, {
      key,
      size: temp.size,
      etag: md5.digest("hex"),
      lastModified: new Date().toISOString(),
      contentType: described?.contentType ?? from.contentType,
      userMetadata: described?.userMetadata ?? from.userMetadata,
      headers: described?.headers ?? from.headers,
      ...(from.checksum?.type === "FULL_OBJECT" ? { checksum: from.checksum } : {}),
    });
    ctx.notify({ eventName: "ObjectCreated:Copy", bucket, key, size: meta.size, eTag: meta.etag }, r);
    const checksum = meta.checksum ? { [`Checksum${meta.checksum.algorithm}`]: meta.checksum.value, ChecksumType: meta.checksum.type } : {};
    sendXml(r, 200, xmlDocument("CopyObjectResult", { LastModified: xmlDate(meta.lastModified), ETag: quoted(meta.etag), ...checksum }));
  } catch (err) {
    await ctx.store.discard(temp);
    throw err;
  }
}
