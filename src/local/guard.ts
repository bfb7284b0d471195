/**
 * The rule every local server shares (the S3 server, the invoke URL, and any later one): it is
 * for programs on this machine, not for web pages the developer happens to have open.
 *  - it listens on 127.0.0.1 only;
 *  - it refuses a Host header that is not its own loopback address or `localhost` with its port
 *    (a DNS-rebinding page sends its own name);
 *  - it refuses a request whose Origin header is not its own origin (a page on another origin can
 *    send a "simple" POST, e.g. text/plain, without any CORS preflight; a CLI or SDK sends none);
 *  - request headers and bodies are bounded.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export const LOOPBACK = "127.0.0.1";
/** Request line + headers, bytes (S3 itself allows 8 KB of headers; SigV4 query strings are long). */
export const MAX_HEADER_BYTES = 16 * 1024;

export interface GuardRefusal {
  status: number;
  reason: "host" | "origin";
  message: string;
}

/** The hosts a request to this server may name: its loopback address or localhost, with its port. */
export function allowedHosts(port: number): string[] {
  const hosts = [`${LOOPBACK}:${port}`, `localhost:${port}`];
  return port === 80 ? [...hosts, LOOPBACK, "localhost"] : hosts;
}

/** Why a request must be refused, or undefined when it comes from this machine's programs. */
export function refusal(req: Pick<IncomingMessage, "headers">, port: number): GuardRefusal | undefined {
  const hosts = allowedHosts(port);
  const host = (req.headers.host ?? "").toLowerCase();
  if (!hosts.includes(host)) {
    return { status: 403, reason: "host", message: `Host "${req.headers.host ?? ""}" is not this server (${hosts.slice(0, 2).join(" or ")}): local servers answer only their own loopback address` };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !hosts.some((h) => origin.toLowerCase() === `http://${h}`)) {
    // "null" (a sandboxed frame, a file: page) is another origin too
    return { status: 403, reason: "origin", message: `Origin "${origin}" is not this server's own origin: requests from web pages on other origins are refused` };
  }
  return undefined;
}

/** An HTTP server with bounded headers that refuses other hosts and origins before `handler` runs. */
export function createLocalServer(handler: RequestListener, refuse: (req: IncomingMessage, res: import("node:http").ServerResponse, why: GuardRefusal) => void): Server {
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    const why = refusal(req, (server.address() as AddressInfo).port);
    if (why) {
      // the body is never read: nothing it says reaches a handler
      res.setHeader("connection", "close");
      refuse(req, res, why);
      return;
    }
    handler(req, res);
  });
  return server;
}

/** Listens on 127.0.0.1 only; resolves with the port (0 picks a free one). */
export async function listenOnLoopback(server: Server, port: number, what: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new Error(`cannot start ${what} on ${LOOPBACK}:${port}: ${err.code ?? err.message}`, { cause: err })));
    server.listen(port, LOOPBACK, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Closes the server and every connection it holds. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body over ${limit} bytes`);
  }
}

/** Reads a whole body, refusing it as soon as it passes `limit` bytes (Content-Length first). */
export async function readBoundedBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new BodyTooLarge(limit);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
