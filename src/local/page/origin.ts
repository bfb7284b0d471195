/**
 * The local stack's Host and Origin rule, for the live page's server: a request must name this
 * server's own loopback address (127.0.0.1:port or localhost:port) as its Host — which defeats
 * DNS rebinding — and, when it carries an Origin, that Origin must be this server's own — which
 * stops other sites' pages from posting to it. (A shared src/local/guard.ts may replace this.)
 */
import type { IncomingMessage } from "node:http";

export function ownOrigins(port: number): string[] {
  return [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
}

/** Why the request is refused, or undefined when it may proceed. */
export function refusalReason(req: Pick<IncomingMessage, "headers">, port: number): string | undefined {
  const host = (req.headers.host ?? "").toLowerCase();
  if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) return `Host "${req.headers.host ?? ""}" is not this server (127.0.0.1:${port} or localhost:${port})`;
  const origin = req.headers.origin;
  if (origin !== undefined && !ownOrigins(port).includes(origin.toLowerCase())) return `Origin "${origin}" is not this page's own origin`;
  return undefined;
}
