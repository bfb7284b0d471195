/**
 * The local S3 server: path-style requests (http://127.0.0.1:<port>/<bucket>/<key>) on loopback,
 * behind the guard every local server shares (guard.ts), SigV4-verified (auth.ts), routed to the
 * handlers, answered with S3's XML and errors, and reporting each change as an S3 event.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { closeServer, createLocalServer, listenOnLoopback } from "../guard.js";
import { verifySignature, parseQuery, type Credentials } from "./auth.js";
import { NotModified, S3Error } from "./errors.js";
import { nextSequencer, type S3Notification } from "./events.js";
import { createBucket, deleteBucket, getBucketLocation, headBucket, listBuckets } from "./handlers/bucket.js";
import { listObjects, listObjectsV2 } from "./handlers/list.js";
import { abortMultipartUpload, completeMultipartUpload, createMultipartUpload, listMultipartUploads, listParts, uploadPart } from "./handlers/multipart.js";
import { copyObject, deleteObject, deleteObjects, getObject, putObject } from "./handlers/object.js";
import { baseHeaders, newRequestId, type S3Context, type S3Request } from "./request.js";
import { Store } from "./store.js";
import { errorDocument } from "./xml.js";

export interface S3ServerOptions {
  directory: string;
  credentials: Credentials;
  region: string;
  port?: number;
  /** Buckets that must exist (created when missing). */
  buckets?: string[];
  onEvent?: (n: S3Notification) => void;
}

export interface S3Server {
  endpoint: string;
  port: number;
  store: Store;
  /**
   * The S3 request handler itself, without the guard: for a test that serves it on a port of its
   * own (e.g. behind a fault-injecting front, which the guard would rightly refuse as a proxy).
   */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

type Handler = (ctx: S3Context, r: S3Request) => void | Promise<void>;

/** Query parameters that sign a request or name the SDK's operation, not an S3 sub-resource. */
const NOT_A_SUBRESOURCE = /^(X-Amz-.*|AWSAccessKeyId|Signature|Expires|x-id|response-.*)$/i;

/** Which S3 call a request is (path-style), or the S3 error for one this server does not take. */
export function route(method: string, bucket: string | undefined, key: string | undefined, query: Map<string, string>, header: (n: string) => string | undefined): Handler {
  const has = (q: string) => query.has(q);
  const subresources = [...query.keys()].filter((k) => !NOT_A_SUBRESOURCE.test(k));
  if (bucket === undefined) {
    if (method === "GET") return listBuckets;
    throw new S3Error("MethodNotAllowed");
  }
  if (key === undefined) {
    switch (method) {
      case "GET":
        if (has("location")) return getBucketLocation;
        if (has("uploads")) return listMultipartUploads;
        if (query.get("list-type") === "2") return listObjectsV2;
        return listObjects;
      case "HEAD":
        return headBucket;
      case "PUT":
        if (subresources.length > 0) throw new S3Error("NotImplemented", `the local S3 does not implement the bucket subresource ?${subresources[0]}`);
        return createBucket;
      case "DELETE":
        return deleteBucket;
      case "POST":
        if (has("delete")) return deleteObjects;
        break;
    }
    throw new S3Error("MethodNotAllowed");
  }
  switch (method) {
    case "GET":
      return has("uploadId") ? listParts : getObject;
    case "HEAD":
      return getObject;
    case "PUT":
      if (has("uploadId") || has("partNumber")) return uploadPart;
      if (subresources.length > 0) throw new S3Error("NotImplemented", `the local S3 does not implement the object subresource ?${subresources[0]}`);
      return header("x-amz-copy-source") !== undefined ? copyObject : putObject;
    case "DELETE":
      return has("uploadId") ? abortMultipartUpload : deleteObject;
    case "POST":
      if (has("uploads")) return createMultipartUpload;
      if (has("uploadId")) return completeMultipartUpload;
  }
  throw new S3Error("MethodNotAllowed");
}

/** A browser form upload: POST to a bucket that is not DeleteObjects. Refused before anything is read. */
function isFormPost(method: string, bucket: string | undefined, key: string | undefined, query: Map<string, string>): boolean {
  return method === "POST" && bucket !== undefined && (key === undefined ? !query.has("delete") : !query.has("uploads") && !query.has("uploadId"));
}

function decodePathPart(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new S3Error("InvalidURI");
  }
}

/** Bucket and key from a raw path; the key is taken as it is (".." and "//" are just characters of it). */
export function parsePath(rawPath: string): { bucket?: string; key?: string } {
  if (!rawPath.startsWith("/")) throw new S3Error("InvalidURI");
  const rest = rawPath.slice(1);
  if (rest === "") return {};
  const slash = rest.indexOf("/");
  if (slash < 0) return { bucket: decodePathPart(rest) };
  const bucket = decodePathPart(rest.slice(0, slash));
  const key = decodePathPart(rest.slice(slash + 1));
  return key === "" ? { bucket } : { bucket, key };
}

function sendError(req: IncomingMessage, res: ServerResponse, err: S3Error, requestId: string, resource?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // an unread body must not be taken for the next request on this connection
  if (!req.complete) res.setHeader("connection", "close");
  const body = Buffer.from(errorDocument(err, requestId, resource ? { Resource: resource } : {}), "utf8");
  res.writeHead(err.status, { ...baseHeaders(requestId), "content-type": "application/xml", "content-length": String(req.method === "HEAD" ? 0 : body.length) });
  res.end(req.method === "HEAD" ? undefined : body);
}

export async function startS3Server(opts: S3ServerOptions): Promise<S3Server> {
  const store = await Store.open(opts.directory);
  for (const b of opts.buckets ?? []) await store.createBucket(b);
  const ctx: S3Context = {
    store,
    region: opts.region,
    notify(n, r) {
      opts.onEvent?.({
        ...n,
        sequencer: nextSequencer(),
        eventTime: new Date().toISOString(),
        sourceIp: r.req.socket.remoteAddress?.replace(/^::ffff:/, "") ?? "127.0.0.1",
        requestId: r.requestId,
        principal: r.signed.accessKeyId,
      });
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = newRequestId();
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? "" : url.slice(q + 1);
    const method = req.method ?? "GET";
    try {
      const { bucket, key } = parsePath(rawPath);
      const query = new Map(parseQuery(rawQuery));
      if (method === "OPTIONS") throw new S3Error("AccessDenied", "CORS is not enabled on the local S3: it takes requests from programs on this machine, not from web pages");
      if (isFormPost(method, bucket, key, query)) throw new S3Error("AccessDenied", "browser form POST uploads are refused by the local S3; use a signed PutObject or a presigned PUT URL");
      const signed = verifySignature({ method, rawPath, rawQuery, rawHeaders: req.rawHeaders }, opts.credentials);
      const header = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v.join(",") : v;
      };
      const handler = route(method, bucket, key, query, header);
      await handler(ctx, { req, res, method, bucket, key, query, signed, requestId, header });
    } catch (err) {
      if (err instanceof NotModified) {
        res.writeHead(304, { ...baseHeaders(requestId), ...err.headers });
        res.end();
        return;
      }
      const s3err = err instanceof S3Error ? err : new S3Error("InternalError", `the local S3 failed: ${(err as Error).message}`);
      sendError(req, res, s3err, requestId, rawPath);
    }
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  const server: Server = createLocalServer(
    handler,
    (req, res, why) => sendError(req, res, new S3Error("AccessDenied", why.message), newRequestId()),
  );
  // S3's own clients hold connections open between requests; so may the SDK inside the function
  server.keepAliveTimeout = 30_000;
  const port = await listenOnLoopback(server, opts.port ?? 0, "the local S3 server");
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    store,
    handler,
    async close() {
      await closeServer(server);
      await store.close();
    },
  };
}
