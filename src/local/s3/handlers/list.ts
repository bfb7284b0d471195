/** ListObjectsV2 (prefix, delimiter, max-keys, continuation-token, start-after) and ListObjects (marker). */
import { encodeS3Key } from "../../../../handler/keys.js";
import { S3Error } from "../errors.js";
import { quoted, sendXml, xmlDate, type S3Context, type S3Request } from "../request.js";
import { compareKeys, type ObjectMeta } from "../store.js";
import { xmlDocument } from "../xml.js";
import { LOCAL_OWNER } from "./bucket.js";

const MAX_KEYS = 1000;

export interface ListPage {
  contents: ObjectMeta[];
  commonPrefixes: string[];
  truncated: boolean;
  /** The last key or common prefix returned: where the next page starts after. */
  last?: string;
}

/** One page of a listing: keys after `after` under `prefix`, rolled up at `delimiter`. */
export function listPage(ctx: S3Context, bucket: string, opts: { prefix: string; delimiter?: string; maxKeys: number; after?: string }): ListPage {
  const page: ListPage = { contents: [], commonPrefixes: [], truncated: false };
  const { prefix, delimiter, after } = opts;
  for (const meta of ctx.store.keysFrom(bucket, prefix, after)) {
    let common: string | undefined;
    if (delimiter) {
      const at = meta.key.indexOf(delimiter, prefix.length);
      if (at >= 0) common = meta.key.slice(0, at + delimiter.length);
    }
    if (common !== undefined) {
      // a prefix already returned (on this page or an earlier one) is not returned again
      if (common === page.last || (after !== undefined && (compareKeys(common, after) <= 0 || after.startsWith(common)))) continue;
    }
    if (page.contents.length + page.commonPrefixes.length >= opts.maxKeys) {
      page.truncated = true;
      break;
    }
    if (common !== undefined) page.commonPrefixes.push(common);
    else page.contents.push(meta);
    page.last = common ?? meta.key;
  }
  return page;
}

function maxKeysOf(r: S3Request): number {
  const v = r.query.get("max-keys");
  if (v === undefined) return MAX_KEYS;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new S3Error("InvalidArgument", "Provided max-keys not an integer or within integer range", { ArgumentName: "max-keys", ArgumentValue: v });
  return Math.min(n, MAX_KEYS);
}

function encoder(r: S3Request): (s: string | undefined) => string | undefined {
  const type = r.query.get("encoding-type");
  if (type !== undefined && type !== "url") throw new S3Error("InvalidArgument", "Invalid Encoding Method specified in Request", { ArgumentName: "encoding-type", ArgumentValue: type });
  return type === "url" ? (s) => (s === undefined ? undefined : encodeS3Key(s)) : (s) => s;
}

function contentsOf(page: ListPage, enc: (s: string) => string | undefined, owner: boolean) {
  return page.contents.map((m) => ({
    Key: enc(m.key),
    LastModified: xmlDate(m.lastModified),
    ETag: quoted(m.etag),
    ...(m.checksum ? { ChecksumAlgorithm: m.checksum.algorithm, ChecksumType: m.checksum.type } : {}),
    Size: m.size,
    ...(owner ? { Owner: LOCAL_OWNER } : {}),
    StorageClass: "STANDARD",
  }));
}

// The continuation token is opaque to clients: the key (or prefix) the page ended on.
const toToken = (last: string) => Buffer.from(`v1:${last}`, "utf8").toString("base64url");
function fromToken(token: string): string {
  const text = Buffer.from(token, "base64url").toString("utf8");
  if (!text.startsWith("v1:") || toToken(text.slice(3)) !== token) throw new S3Error("InvalidArgument", "The continuation token provided is incorrect", { ArgumentName: "continuation-token" });
  return text.slice(3);
}

export function listObjectsV2(ctx: S3Context, r: S3Request): void {
  const bucket = r.bucket!;
  ctx.store.requireBucket(bucket);
  const prefix = r.query.get("prefix") ?? "";
  const delimiter = r.query.get("delimiter") || undefined;
  const token = r.query.get("continuation-token");
  const startAfter = r.query.get("start-after");
  const maxKeys = maxKeysOf(r);
  const enc = encoder(r);
  const after = token !== undefined ? fromToken(token) : startAfter || undefined;
  const page = listPage(ctx, bucket, { prefix, delimiter, maxKeys, after });
  sendXml(
    r,
    200,
    xmlDocument("ListBucketResult", {
      Name: bucket,
      Prefix: enc(prefix),
      Delimiter: enc(delimiter),
      MaxKeys: maxKeys,
      EncodingType: r.query.get("encoding-type"),
      KeyCount: page.contents.length + page.commonPrefixes.length,
      IsTruncated: page.truncated,
      ContinuationToken: token,
      NextContinuationToken: page.truncated && page.last !== undefined ? toToken(page.last) : undefined,
      StartAfter: startAfter ? enc(startAfter) : undefined,
      Contents: contentsOf(page, (s) => enc(s)!, r.query.get("fetch-owner") === "true"),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    }),
  );
}

export function listObjects(ctx: S3Context, r: S3Request): void {
  const bucket = r.bucket!;
  ctx.store.requireBucket(bucket);
  const prefix = r.query.get("prefix") ?? "";
  const delimiter = r.query.get("delimiter") || undefined;
  const marker = r.query.get("marker") ?? "";
  const maxKeys = maxKeysOf(r);
  const enc = encoder(r);
  const page = listPage(ctx, bucket, { prefix, delimiter, maxKeys, after: marker || undefined });
  sendXml(
    r,
    200,
    xmlDocument("ListBucketResult", {
      Name: bucket,
      Prefix: enc(prefix),
      Marker: enc(marker),
      // S3 gives NextMarker only with a delimiter; without one, clients continue from the last key
      NextMarker: page.truncated && delimiter ? enc(page.last) : undefined,
      MaxKeys: maxKeys,
      Delimiter: enc(delimiter),
      EncodingType: r.query.get("encoding-type"),
      IsTruncated: page.truncated,
      Contents: contentsOf(page, (s) => enc(s)!, true),
      CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: enc(p) })),
    }),
  );
}
