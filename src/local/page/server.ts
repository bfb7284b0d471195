/**
 * The live page of `imgfn dev`: a small HTTP server on loopback that serves the built page
 * (dist/web/live.*), the current results, thumbnails, a server-sent event stream of new results
 * and function log lines, and an upload endpoint that writes to the local S3 with the SDK (the
 * browser never talks to the S3 port).
 */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { KeyRules } from "../../../handler/keys.js";
import { contentTypeFor } from "../../pipeline/upload.js";
import { loadResults, readRow, type ResultRow } from "../../results/read.js";
import { cardData, readWebAsset } from "../../results/report.js";
import { isThumbnail, thumbnailFromS3 } from "../../results/thumbnail.js";
import type { CardData } from "../../results/view.js";
import type { LogEvent } from "../../target.js";
import { parseHandlerLine } from "../../ui/logs.js";
import { localS3Client } from "../s3.js";
import { LogLineReader } from "./log-lines.js";
import { refusalReason } from "./origin.js";

export interface LivePageOptions {
  s3: S3Client;
  bucket: string;
  rules: KeyRules;
  /** The stack's log writer: every event as it is written. */
  logs: { subscribe(listener: (event: LogEvent) => void): () => void };
  port?: number;
  /** Upload bodies over this size are refused (413) before any byte goes to S3. */
  maxUploadBytes: number;
  /** Results listed when the page loads. */
  initialResults?: number;
}

export interface LivePage {
  url: string;
  port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A file name from the browser → the key under the input prefix, or a 400 saying why not. */
export function uploadKey(name: string | null, rules: KeyRules): string {
  if (!name) throw new HttpError(400, "the upload needs ?name=<file name>");
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f/\\]/.test(name) || name === "." || name === ".." || name.length > 255) throw new HttpError(400, `"${name}" is not a plain file name`);
  if (rules.suffixes.length && !rules.suffixes.some((s) => name.endsWith(s))) {
    throw new HttpError(400, `"${name}" does not end in ${rules.suffixes.join(", ")} (suffixes are case-sensitive), so the trigger would not fire for it`);
  }
  return rules.inputPrefix + name;
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, `the file is ${declared} bytes, over the ${limit}-byte limit (maxBytes in imgfn.config.json)`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `the file is over the ${limit}-byte limit (maxBytes in imgfn.config.json)`);
    chunks.push(chunk);
  }
  if (size === 0) throw new HttpError(400, "the upload is empty");
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: string | Buffer, type: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), "x-content-type-options": "nosniff", "cache-control": "no-store", ...extra });
  res.end(body);
}
const sendJson = (res: ServerResponse, status: number, value: unknown) => send(res, status, JSON.stringify(value), "application/json; charset=utf-8");

const PAGE_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

export async function startLivePage(opts: LivePageOptions): Promise<LivePage> {
  const { s3, bucket, rules } = opts;
  const assets = {
    "/": { body: readWebAsset("live.html"), type: "text/html; charset=utf-8" },
    "/assets/live.js": { body: readWebAsset("live.js"), type: "text/javascript; charset=utf-8" },
    "/assets/live.css": { body: readWebAsset("live.css"), type: "text/css; charset=utf-8" },
  } as Record<string, { body: string; type: string }>;
  const streams = new Set<ServerResponse>();
  const reader = new LogLineReader();
  const thumbUrl = (row: ResultRow) => `/api/thumbnail?key=${encodeURIComponent(row.key)}&v=${row.when}`;
  const card = (row: ResultRow): CardData => cardData(row, row.key === row.resultKey ? { problem: "no source key in the result" } : { uri: thumbUrl(row) });
  const broadcast = (event: string, data: unknown) => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of streams) res.write(frame);
  };

  const unsubscribe = opts.logs.subscribe((event) => {
    const line = reader.read(event);
    broadcast("log", line);
    // the handler logs its result line after the result object is written: read it and show it
    const json = line.kind === "classified" || line.kind === "rejected" ? parseHandlerLine(event.message) : undefined;
    if (json?.outputKey && streams.size > 0) {
      readRow(s3, bucket, { key: json.outputKey, lastModified: event.timestamp, size: 0 })
        .then((row) => broadcast("result", card(row)))
        .catch((err) => broadcast("log", { timestamp: Date.now(), kind: "error", text: `could not read ${json.outputKey}: ${(err as Error).message}` }));
    }
  });

  const handle = async (req: IncomingMessage, res: ServerResponse, port: number) => {
    const refused = refusalReason(req, port);
    if (refused) throw new HttpError(403, refused);
    const url = new URL(req.url ?? "/", `http://127.0.0.1:${port}`);
    const asset = assets[url.pathname];
    if (asset) {
      if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, `${req.method} is not allowed here`);
      return send(res, 200, asset.body, asset.type, { "content-security-policy": PAGE_CSP, "x-frame-options": "DENY" });
    }
    if (url.pathname === "/api/upload") {
      if (req.method !== "POST") throw new HttpError(405, "upload with POST /api/upload?name=<file name>");
      const key = uploadKey(url.searchParams.get("name"), rules);
      const body = await readBody(req, opts.maxUploadBytes);
      const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentTypeFor(key), ContentLength: body.byteLength }));
      return sendJson(res, 201, { bucket, key, size: body.byteLength, etag: put.ETag?.replace(/"/g, "") });
    }
    if (req.method !== "GET") throw new HttpError(405, `${req.method} is not allowed here`);
    if (url.pathname === "/api/results") {
      const { rows } = await loadResults(s3, bucket, { prefix: rules.outputPrefix, limit: opts.initialResults ?? 200 });
      return sendJson(res, 200, rows.map(card));
    }
    if (url.pathname === "/api/thumbnail") {
      const key = url.searchParams.get("key");
      if (!key) throw new HttpError(400, "?key= is required");
      const t = await thumbnailFromS3(s3, bucket, key);
      if (!isThumbnail(t)) throw new HttpError(404, t.problem);
      return send(res, 200, t.bytes, t.contentType, { "cache-control": "private, max-age=3600" });
    }
    if (url.pathname === "/api/events") {
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive" });
      res.write(": connected\n\n");
      streams.add(res);
      req.on("close", () => streams.delete(res));
      return;
    }
    throw new HttpError(404, `no such page: ${url.pathname}`);
  };

  const server = createServer((req, res) => {
    const port = (server.address() as AddressInfo).port;
    handle(req, res, port).catch((err) => {
      const status = err instanceof HttpError ? err.status : 500;
      if (status === 413) res.setHeader("connection", "close"); // do not read the rest of a body we refused
      if (!res.headersSent) sendJson(res, status, { error: err instanceof HttpError ? err.message : `internal error: ${(err as Error).message}` });
      else res.end();
      if (status === 413) req.destroy();
    });
  });
  // a comment line every 15 s keeps proxies and browsers from closing an idle stream
  const heartbeat = setInterval(() => {
    for (const res of streams) res.write(": ping\n\n");
  }, 15_000);
  heartbeat.unref();
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new Error(`cannot start the live page on 127.0.0.1:${opts.port ?? 0}: ${err.code ?? err.message}`, { cause: err })));
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    async close() {
      clearInterval(heartbeat);
      unsubscribe();
      for (const res of streams) res.end();
      streams.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}


/** The live page for a running local stack (what `imgfn dev` starts). */
export async function startDevPage(
  stack: { s3Endpoint: string; region: string; bucket: string; logs: LivePageOptions["logs"] },
  rules: KeyRules & { maxBytes: number },
  port?: number,
): Promise<LivePage> {
  const s3 = localS3Client(stack.s3Endpoint, stack.region);
  try {
    const page = await startLivePage({ s3, bucket: stack.bucket, rules, logs: stack.logs, port, maxUploadBytes: rules.maxBytes });
    return { ...page, close: () => page.close().finally(() => s3.destroy()) };
  } catch (err) {
    s3.destroy();
    throw err;
  }
}
