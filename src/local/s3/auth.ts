/**
 * AWS Signature Version 4 as S3 checks it, in the Authorization header or in the query string
 * (presigned URLs), against the one local account. Unsigned and wrongly signed requests are
 * refused with S3's errors. The result carries what aws-chunked bodies need to check each chunk's
 * signature (chunked.ts).
 */
import * as crypto from "node:crypto";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { S3Error } from "./errors.js";

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** What a verified signature tells the rest of the request. */
export interface SignedRequest {
  accessKeyId: string;
  /** The x-amz-content-sha256 the client signed: a hex digest, UNSIGNED-PAYLOAD or STREAMING-…. */
  payloadHash: string;
  /** yyyymmddThhmmssZ */
  amzDate: string;
  /** date/region/s3/aws4_request */
  scope: string;
  signingKey: Buffer;
  /** The request's signature: the seed of a signed aws-chunked body. */
  signature: string;
  presigned: boolean;
}

export interface RequestToVerify {
  method: string;
  /** The path exactly as sent (still percent-encoded). */
  rawPath: string;
  /** The query string as sent, without "?". */
  rawQuery: string;
  /** Node's rawHeaders: name, value, name, value… */
  rawHeaders: string[];
}

const ALGORITHM = "AWS4-HMAC-SHA256";
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
export const EMPTY_SHA256 = createHash("sha256").update("").digest("hex");

/** One-shot crypto.hash where Node has it (20.12+): no Hash object per call. */
const oneShot = (crypto as { hash?: { (algorithm: string, data: string | Buffer, encoding: "hex"): string; (algorithm: string, data: Buffer, encoding: "buffer"): Buffer } }).hash;
export const sha256Hex = (data: string | Buffer): string => (oneShot ? oneShot("sha256", data, "hex") : createHash("sha256").update(data).digest("hex"));
const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is %XX (UTF-8). */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, "%20"));
  } catch {
    throw new S3Error("InvalidURI");
  }
}

/** The query as decoded pairs, in order (a name without "=" has the value ""). */
export function parseQuery(rawQuery: string): [string, string][] {
  if (!rawQuery) return [];
  return rawQuery.split("&").filter(Boolean).map((p) => {
    const i = p.indexOf("=");
    return i < 0 ? [decodeComponent(p), ""] : [decodeComponent(p.slice(0, i)), decodeComponent(p.slice(i + 1))];
  });
}

function canonicalQuery(pairs: [string, string][]): string {
  return pairs
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

/** A header value as SigV4 canonicalizes it: trimmed, inner runs of spaces and tabs made one space. */
function canonicalValue(v: string): string {
  const t = v.trim();
  return t.includes("  ") || t.includes("\t") ? t.replace(/\s+/g, " ") : t;
}

/** Header values by lower-case name, repeated headers joined with "," as SigV4 does. */
function headerValues(rawHeaders: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const value = canonicalValue(rawHeaders[i + 1]);
    const list = m.get(name);
    if (list) list.push(value);
    else m.set(name, [value]);
  }
  return m;
}

/**
 * The path re-encoded segment by segment: the second canonical URI tried, for a client that sent a
 * character raw but signed it encoded (the AWS SDKs, the CLI and boto3 sign the path as sent).
 */
function reencodedPath(rawPath: string): string {
  return rawPath
    .split("/")
    .map((seg) => {
      try {
        return uriEncode(decodeURIComponent(seg));
      } catch {
        return seg;
      }
    })
    .join("/");
}

const keyCache = new Map<string, Buffer>();
/** The derived key for a day, region and service (the same for every request of that day: cached). */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const id = `${secret}\0${date}\0${region}\0${service}`;
  let key = keyCache.get(id);
  if (!key) {
    key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), "aws4_request");
    if (keyCache.size > 64) keyCache.clear();
    keyCache.set(id, key);
  }
  return key;
}

/** A signing key's HMAC pads (RFC 2104: the 64-byte key block XOR 0x36 and XOR 0x5c). */
const padsCache = new WeakMap<Buffer, { inner: Buffer; outer: Buffer }>();
function pads(key: Buffer): { inner: Buffer; outer: Buffer } {
  let p = padsCache.get(key);
  if (!p) {
    const block = Buffer.alloc(64);
    (key.length > 64 ? createHash("sha256").update(key).digest() : key).copy(block);
    p = { inner: Buffer.alloc(64), outer: Buffer.alloc(64) };
    for (let i = 0; i < 64; i++) {
      p.inner[i] = block[i] ^ 0x36;
      p.outer[i] = block[i] ^ 0x5c;
    }
    padsCache.set(key, p);
  }
  return p;
}

/**
 * Hex HMAC-SHA256 of a string to sign. With one-shot hashing it is two crypto.hash calls over the
 * key's cached pads: a request's signature, every chunk's and the trailer's cost no Hmac object.
 */
export function sign(key: Buffer, stringToSign: string): string {
  if (!oneShot) return createHmac("sha256", key).update(stringToSign).digest("hex");
  const { inner, outer } = pads(key);
  const innerHash = oneShot("sha256", Buffer.concat([inner, Buffer.from(stringToSign, "utf8")]), "buffer");
  return oneShot("sha256", Buffer.concat([outer, innerHash]), "hex");
}

export function signaturesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function amzDateToMs(d: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(d);
  if (!m) return NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

interface Parsed {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  payloadHash: string;
  presigned: boolean;
  /** Query pairs that take part in the canonical query. */
  queryPairs: [string, string][];
}

function parseCredential(credential: string, malformed: string): Pick<Parsed, "accessKeyId" | "date" | "region" | "service"> {
  const parts = credential.split("/");
  if (parts.length !== 5 || parts[4] !== "aws4_request") throw new S3Error(malformed, `the Credential "${credential}" is not <key>/<date>/<region>/s3/aws4_request`);
  return { accessKeyId: parts[0], date: parts[1], region: parts[2], service: parts[3] };
}

function parseAuthorization(headers: Map<string, string[]>, pairs: [string, string][], now: number): Parsed {
  const auth = headers.get("authorization")?.[0];
  const presigned = pairs.some(([k]) => k === "X-Amz-Signature") || pairs.some(([k]) => k === "X-Amz-Algorithm");
  if (auth !== undefined) {
    if (!auth.startsWith(`${ALGORITHM} `)) {
      if (auth.startsWith("AWS ")) throw new S3Error("InvalidRequest", "Signature Version 2 is not supported by the local S3; use Signature Version 4 (every current SDK does)");
      throw new S3Error("AuthorizationHeaderMalformed", `unsupported authorization algorithm; use ${ALGORITHM}`);
    }
    const fields: Record<string, string> = {};
    for (const part of auth.slice(ALGORITHM.length + 1).split(",")) {
      const f = part.trim();
      const eq = f.indexOf("=");
      if (eq > 0) fields[f.slice(0, eq)] = f.slice(eq + 1);
    }
    if (!fields.Credential || !fields.SignedHeaders || !fields.Signature) throw new S3Error("AuthorizationHeaderMalformed", "the Authorization header needs Credential, SignedHeaders and Signature");
    const amzDate = headers.get("x-amz-date")?.[0];
    if (!amzDate) throw new S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header");
    const payloadHash = headers.get("x-amz-content-sha256")?.[0];
    if (!payloadHash) throw new S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256");
    return { ...parseCredential(fields.Credential, "AuthorizationHeaderMalformed"), signedHeaders: fields.SignedHeaders.split(";"), signature: fields.Signature, amzDate, payloadHash, presigned: false, queryPairs: pairs };
  }
  if (presigned) {
    const q = Object.fromEntries(pairs);
    for (const name of ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"]) {
      if (q[name] === undefined) throw new S3Error("AuthorizationQueryParametersError");
    }
    if (q["X-Amz-Algorithm"] !== ALGORITHM) throw new S3Error("AuthorizationQueryParametersError", `X-Amz-Algorithm only supports "${ALGORITHM}"`);
    const expires = Number(q["X-Amz-Expires"]);
    if (!Number.isInteger(expires) || expires < 0 || expires > MAX_PRESIGN_SECONDS) throw new S3Error("AuthorizationQueryParametersError", "X-Amz-Expires must be from 0 to 604800 seconds");
    const start = amzDateToMs(q["X-Amz-Date"]);
    if (!Number.isFinite(start)) throw new S3Error("AuthorizationQueryParametersError", "X-Amz-Date must be in the ISO8601 basic format yyyyMMdd'T'HHmmss'Z'");
    if (now > start + expires * 1000) throw new S3Error("AccessDenied", "Request has expired", { "X-Amz-Expires": expires, Expires: new Date(start + expires * 1000).toISOString() });
    return {
      ...parseCredential(q["X-Amz-Credential"], "AuthorizationQueryParametersError"),
      signedHeaders: q["X-Amz-SignedHeaders"].split(";"),
      signature: q["X-Amz-Signature"],
      amzDate: q["X-Amz-Date"],
      payloadHash: q["X-Amz-Content-Sha256"] ?? "UNSIGNED-PAYLOAD",
      presigned: true,
      queryPairs: pairs.filter(([k]) => k !== "X-Amz-Signature"),
    };
  }
  throw new S3Error("AccessDenied", "Anonymous access is refused: sign requests with Signature Version 4 and the local credentials");
}

/** S3's sub-resources, the only query parameters a Signature Version 2 string to sign names. */
const V2_SUBRESOURCES = ["acl", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy", "requestPayment", "response-cache-control", "response-content-disposition", "response-content-encoding", "response-content-language", "response-content-type", "response-expires", "restore", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website"];

/**
 * A presigned URL of Signature Version 2 (AWSAccessKeyId, Expires, Signature), which the AWS CLI
 * v1's `s3 presign` still makes by default. Only the query form: every SDK signs headers with v4.
 */
function verifyPresignedV2(req: RequestToVerify, headers: Map<string, string[]>, pairs: [string, string][], credentials: Credentials, now: number): SignedRequest {
  const q = Object.fromEntries(pairs);
  if (q.AWSAccessKeyId !== credentials.accessKeyId) throw new S3Error("InvalidAccessKeyId", undefined, { AWSAccessKeyId: q.AWSAccessKeyId });
  const expires = Number(q.Expires);
  if (!Number.isInteger(expires)) throw new S3Error("AccessDenied", "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters");
  if (now > expires * 1000) throw new S3Error("AccessDenied", "Request has expired", { Expires: new Date(expires * 1000).toISOString() });
  const amz = [...headers.entries()]
    .filter(([k]) => k.startsWith("x-amz-"))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}:${v.join(",")}\n`)
    .join("");
  const sub = pairs
    .filter(([k]) => V2_SUBRESOURCES.includes(k))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => (v === "" ? k : `${k}=${v}`))
    .join("&");
  const resource = decodeURIComponent(req.rawPath).split("/").map(uriEncode).join("/") + (sub ? `?${sub}` : "");
  const candidates = [req.rawPath + (sub ? `?${sub}` : ""), resource];
  for (const res of candidates) {
    const toSign = [req.method, headers.get("content-md5")?.[0] ?? "", headers.get("content-type")?.[0] ?? "", q.Expires, `${amz}${res}`].join("\n");
    const expected = createHmac("sha1", credentials.secretAccessKey).update(toSign, "utf8").digest("base64");
    if (signaturesEqual(expected, q.Signature)) {
      return { accessKeyId: q.AWSAccessKeyId, payloadHash: "UNSIGNED-PAYLOAD", amzDate: "", scope: "", signingKey: Buffer.alloc(0), signature: q.Signature, presigned: true };
    }
  }
  throw new S3Error("SignatureDoesNotMatch");
}

/** Verifies the request's signature; throws S3's error for an unsigned or wrongly signed one. */
export function verifySignature(req: RequestToVerify, credentials: Credentials, now = Date.now()): SignedRequest {
  const headers = headerValues(req.rawHeaders);
  const pairs = parseQuery(req.rawQuery);
  if (!headers.has("authorization") && pairs.some(([k]) => k === "AWSAccessKeyId") && pairs.some(([k]) => k === "Signature")) {
    return verifyPresignedV2(req, headers, pairs, credentials, now);
  }
  const p = parseAuthorization(headers, pairs, now);
  if (p.accessKeyId !== credentials.accessKeyId) throw new S3Error("InvalidAccessKeyId", undefined, { AWSAccessKeyId: p.accessKeyId });
  if (p.service !== "s3") throw new S3Error(p.presigned ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed", `the credential scope's service must be "s3", not "${p.service}"`);
  if (!p.amzDate.startsWith(p.date)) throw new S3Error(p.presigned ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed", "the credential scope's date does not match x-amz-date");
  if (!p.presigned) {
    const at = amzDateToMs(p.amzDate);
    if (!Number.isFinite(at)) throw new S3Error("AccessDenied", "x-amz-date must be in the ISO8601 basic format yyyyMMdd'T'HHmmss'Z'");
    if (Math.abs(now - at) > MAX_SKEW_MS) throw new S3Error("RequestTimeTooSkewed", undefined, { RequestTime: p.amzDate, ServerTime: new Date().toISOString() });
  }
  if (!p.signedHeaders.includes("host")) throw new S3Error("AccessDenied", "the signature must cover the Host header");
  for (const name of headers.keys()) {
    // S3 requires every x-amz-* header that is sent to be signed
    if (name.startsWith("x-amz-") && !p.signedHeaders.includes(name) && !(p.presigned && name === "x-amz-content-sha256")) {
      throw new S3Error("AccessDenied", `There were headers present in the request which were not signed: ${name}`);
    }
  }
  const canonicalHeaders = p.signedHeaders.map((h) => `${h}:${(headers.get(h) ?? []).join(",")}\n`).join("");
  const scope = `${p.date}/${p.region}/${p.service}/aws4_request`;
  const key = signingKey(credentials.secretAccessKey, p.date, p.region, p.service);
  const query = canonicalQuery(p.queryPairs);
  const matches = (uri: string) => {
    const canonical = `${req.method}\n${uri}\n${query}\n${canonicalHeaders}\n${p.signedHeaders.join(";")}\n${p.payloadHash}`;
    return signaturesEqual(sign(key, `${ALGORITHM}\n${p.amzDate}\n${scope}\n${sha256Hex(canonical)}`), p.signature);
  };
  if (!matches(req.rawPath)) {
    const reencoded = reencodedPath(req.rawPath);
    if (reencoded === req.rawPath || !matches(reencoded)) throw new S3Error("SignatureDoesNotMatch");
  }
  return { accessKeyId: p.accessKeyId, payloadHash: p.payloadHash, amzDate: p.amzDate, scope, signingKey: key, signature: p.signature, presigned: p.presigned };
}
