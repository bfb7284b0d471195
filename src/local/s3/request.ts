/** One S3 request as the handlers see it: the route, the verified signature, and the reply helpers. */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { SignedRequest } from "./auth.js";
import type { S3Notification } from "./events.js";
import type { Store } from "./store.js";

export interface S3Context {
  store: Store;
  region: string;
  /** Called once per object created or removed, after the change is committed. */
  notify(n: Omit<S3Notification, "sequencer" | "eventTime" | "sourceIp" | "requestId" | "principal">, req: S3Request): void;
}

export interface S3Request {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  bucket?: string;
  key?: string;
  /** Decoded query parameters (a name without value maps to ""). */
  query: Map<string, string>;
  signed: SignedRequest;
  requestId: string;
  /** A header's value ("," joined when repeated), lower-case name. */
  header(name: string): string | undefined;
}

// a random prefix per server process and a counter: unique, and no random bytes per request
const REQUEST_ID_PREFIX = randomBytes(4).toString("hex").toUpperCase();
let requests = 0;
export const newRequestId = () => `${REQUEST_ID_PREFIX}${(++requests).toString(16).toUpperCase().padStart(8, "0")}`;

export function baseHeaders(requestId: string): Record<string, string> {
  return { "x-amz-request-id": requestId, "x-amz-id-2": requestId, server: "imgfn-local-s3" };
}

export function sendXml(r: S3Request, status: number, xml: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(xml, "utf8");
  r.res.writeHead(status, { ...baseHeaders(r.requestId), "content-type": "application/xml", "content-length": String(body.length), ...headers });
  r.res.end(r.method === "HEAD" ? undefined : body);
}

export function sendEmpty(r: S3Request, status: number, headers: Record<string, string> = {}): void {
  r.res.writeHead(status, { ...baseHeaders(r.requestId), "content-length": "0", ...headers });
  r.res.end();
}

/** ETag as S3 sends it: quoted. */
export const quoted = (etag: string) => `"${etag}"`;

/** HTTP date with second precision, as S3's Last-Modified. */
export const httpDate = (iso: string) => new Date(iso).toUTCString();

/** ISO time with milliseconds, as S3's XML dates. */
export const xmlDate = (iso: string) => new Date(iso).toISOString();
