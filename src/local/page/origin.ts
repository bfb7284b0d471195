/**
 * The live page's server follows the Host and Origin rule every local server shares
 * (src/local/guard.ts): its own loopback Host only (which defeats DNS rebinding), and no Origin but
 * its own (which stops other sites' pages from posting to it).
 */
import type { IncomingMessage } from "node:http";
import { refusal } from "../guard.js";

/** Why the request is refused, or undefined when it may proceed. */
export function refusalReason(req: Pick<IncomingMessage, "headers">, port: number): string | undefined {
  return refusal(req, port)?.message;
}
