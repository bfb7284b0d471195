/**
 * The local Function URL: an HTTP server on loopback that turns each request into a payload 2.0
 * event (the shape Lambda gives a function behind its Function URL) and runs it through the
 * emulator's workers as a synchronous invocation — so cold and warm starts, the concurrency
 * limit, timeouts and REPORT lines are exactly those of an S3 invocation.
 *
 * It obeys the local stack's rule for every loopback server (guard.ts): only its own Host
 * (127.0.0.1:port or localhost:port), and no cross-origin request except from an origin the
 * config's "http.cors.allowOrigins" lists, which then gets CORS headers as Lambda would send them.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { SYNC_LIMIT_TEXT, SYNC_PAYLOAD_LIMIT } from "../../handler/settings.js";
import type { CorsConfig } from "../config.js";
import type { LambdaEmulator } from "./emulator.js";
import { refusal } from "./guard.js";

export interface FunctionUrlServer {
  /** http://127.0.0.1:<port>/ */
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface FunctionUrlOptions {
  port?: number;
  /** CORS as the config resolves it (effectiveCors); undefined: same-origin only. */
  cors?: Required<CorsConfig>;
  region?: string;
  /** Request payload limit (Lambda's 6 MB for synchronous invocations). */
  payloadLimit?: number;
}

/** Content types Lambda passes as text; every other body (forms included) arrives base64-encoded. */
const TEXT_TYPES = /^(text\/.*|application\/(json|xml|javascript|yaml)|.*\+(json|xml))$/i;

/**
 * The local stack's rule (guard.ts: its own Host, its own Origin), except that an origin the
 * config's "http.cors.allowOrigins" lists may call, as the deployed URL lets it.
 */
export function checkLoopbackRequest(req: IncomingMessage, port: number, allowedOrigins: string[] = []): string | undefined {
  const why = refusal(req, port);
  if (!why) return undefined;
  const origin = req.headers.origin;
  if (why.reason === "origin" && origin && (allowedOrigins.includes("*") || allowedOrigins.includes(origin))) return undefined;
  return why.reason === "origin" ? `${why.message}; list it in "http.cors.allowOrigins" in imgfn.config.json` : why.message;
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(body);
}

const errorBody = (code: string, message: string) => JSON.stringify({ error: { code, message } });

/** The CORS response headers for an allowed cross-origin request (none for same-origin). */
function corsHeaders(origin: string | undefined, cors: Required<CorsConfig> | undefined): Record<string, string> {
  if (!origin || !cors) return {};
  if (!cors.allowOrigins.includes(origin) && !cors.allowOrigins.includes("*")) return {};
  return { "access-control-allow-origin": cors.allowOrigins.includes("*") ? "*" : origin, vary: "Origin" };
}

/** Reads the body up to `limit` bytes; undefined when it is larger (the rest is not kept). */
async function readLimited(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) over = true;
    if (!over) chunks.push(chunk as Buffer);
  }
  return over ? undefined : Buffer.concat(chunks);
}

/** The payload 2.0 event Lambda builds for a Function URL request. */
export function functionUrlEvent(req: IncomingMessage, body: Buffer, opts: { port: number; region: string; requestId: string }): Record<string, unknown> {
  const url = new URL(req.url ?? "/", `http://127.0.0.1:${opts.port}`);
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    const value = req.rawHeaders[i + 1];
    if (name === "cookie") cookies.push(...value.split(/;\s*/).filter(Boolean));
    else headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const contentType = headers["content-type"]?.split(";")[0].trim() ?? "";
  const asText = body.length > 0 && TEXT_TYPES.test(contentType);
  const now = new Date();
  const apiId = "local";
  const domainName = `${apiId}.lambda-url.${opts.region}.on.aws`;
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(cookies.length ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: "anonymous",
      apiId,
      domainName,
      domainPrefix: apiId,
      http: { method: req.method ?? "GET", path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: req.socket.remoteAddress ?? "127.0.0.1", userAgent: headers["user-agent"] ?? "" },
      requestId: opts.requestId,
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length ? { body: asText ? body.toString("utf8") : body.toString("base64") } : {}),
    isBase64Encoded: body.length > 0 && !asText,
  };
}

/** A function's result → the HTTP response Lambda's Function URL would send. */
function resultToResponse(result: any): { status: number; headers: Record<string, string>; body: Buffer } {
  // A result without statusCode is the body itself, as JSON, with 200 (Lambda's inference rule).
  if (!result || typeof result !== "object" || typeof result.statusCode !== "number") {
    return { status: 200, headers: { "content-type": "application/json" }, body: Buffer.from(JSON.stringify(result ?? null)) };
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
  const raw = typeof result.body === "string" ? result.body : result.body === undefined ? "" : JSON.stringify(result.body);
  return { status: result.statusCode, headers, body: result.isBase64Encoded ? Buffer.from(raw, "base64") : Buffer.from(raw, "utf8") };
}

export async function startFunctionUrlServer(emulator: LambdaEmulator, opts: FunctionUrlOptions = {}): Promise<FunctionUrlServer> {
  const limit = opts.payloadLimit ?? SYNC_PAYLOAD_LIMIT;
  const region = opts.region ?? "us-east-1";
  const cors = opts.cors;
  let port = 0;
  const server: Server = createServer(async (req, res) => {
    // one id for the URL request and the invocation: the x-amzn-requestid answer names the REPORT line
    const requestId = randomUUID();
    try {
      const refused = checkLoopbackRequest(req, port, cors?.allowOrigins);
      if (refused) {
        req.resume();
        return send(res, 403, errorBody("FORBIDDEN", refused));
      }
      const origin = req.headers.origin;
      const allowed = corsHeaders(origin, cors);
      // A preflight is answered by the URL itself (as Lambda does when CORS is configured)
      if (req.method === "OPTIONS" && origin && req.headers["access-control-request-method"] && cors) {
        req.resume();
        res.writeHead(204, {
          ...allowed,
          "access-control-allow-methods": cors.allowMethods.join(","),
          "access-control-allow-headers": cors.allowHeaders.join(","),
          "access-control-max-age": String(cors.maxAge),
        });
        return res.end();
      }
      const tooLarge = (size: string) => send(res, 413, errorBody("PAYLOAD_TOO_LARGE", `request body is ${size}, over ${SYNC_LIMIT_TEXT}`), allowed);
      const declared = Number(req.headers["content-length"] ?? NaN);
      if (declared > limit) {
        // answer at once; the rest of the upload is drained, never kept
        req.resume();
        return tooLarge(`${declared} bytes`);
      }
      const body = await readLimited(req, limit);
      if (!body) return tooLarge(`more than ${limit} bytes`);
      const event = functionUrlEvent(req, body, { port, region, requestId });
      // the whole invocation payload counts, and a binary body is base64 (4/3) inside it
      const payload = Buffer.byteLength(JSON.stringify(event));
      if (payload > limit) return tooLarge(`${body.length} bytes (${payload} bytes as the invocation payload, base64-encoded)`);
      const outcome = await emulator.invoke(event, requestId);
      const ids = { "x-amzn-requestid": outcome.requestId };
      if (!outcome.ok) {
        // what a Function URL answers when the function fails or times out
        return send(res, 502, JSON.stringify({ Message: "Internal Server Error" }), { ...allowed, ...ids, "x-amzn-errortype": outcome.error.errorType });
      }
      const r = resultToResponse(outcome.result);
      res.writeHead(r.status, { ...r.headers, ...allowed, ...ids });
      res.end(r.body);
    } catch (err) {
      if (!res.headersSent) send(res, 500, errorBody("LOCAL_URL_ERROR", (err as Error).message));
      else res.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen for the Function URL on 127.0.0.1:${opts.port ?? 0}: ${err.code ?? err.message}`, { cause: err })),
    );
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
