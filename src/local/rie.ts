/**
 * The Lambda Runtime Interface Emulator's invoke URL, so the container docs' check works:
 *   curl -XPOST "http://127.0.0.1:<port>/2015-03-31/functions/function/invocations" -d @event.json
 * RequestResponse returns the handler's result (or Lambda's error shape with
 * X-Amz-Function-Error); "X-Amz-Invocation-Type: Event" queues it like S3 does and answers 202.
 * Like every local server it answers only its own host and origin (guard.ts), and takes Lambda's
 * payload limits: 6 MB synchronous, 256 KB asynchronous.
 */
import type { ServerResponse } from "node:http";
import type { LambdaEmulator } from "./emulator.js";
import { BodyTooLarge, closeServer, createLocalServer, listenOnLoopback, readBoundedBody } from "./guard.js";

export interface InvokeServer {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

export const INVOKE_PATH = "/2015-03-31/functions/function/invocations";
const INVOKE_ROUTE = /^\/2015-03-31\/functions\/[^/]+\/invocations\/?(?:\?.*)?$/;
/** Lambda's invocation payload limits, bytes. */
export const SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024;
export const ASYNC_PAYLOAD_LIMIT = 256 * 1024;

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(text);
}

export async function startInvokeServer(emulator: LambdaEmulator, port = 0): Promise<InvokeServer> {
  const server = createLocalServer(
    async (req, res) => {
      try {
        if (!INVOKE_ROUTE.test(req.url ?? "")) return reply(res, 404, { message: `no route for ${req.method} ${req.url}; invoke with POST ${INVOKE_PATH}` });
        if (req.method !== "POST") return reply(res, 405, { message: "use POST" });
        const type = String(req.headers["x-amz-invocation-type"] ?? "RequestResponse");
        const limit = type === "Event" ? ASYNC_PAYLOAD_LIMIT : SYNC_PAYLOAD_LIMIT;
        let text: string;
        try {
          text = (await readBoundedBody(req, limit)).toString("utf8");
        } catch (err) {
          if (!(err instanceof BodyTooLarge)) throw err;
          res.setHeader("connection", "close");
          return reply(res, 413, { Type: "User", message: `Request must be smaller than ${limit} bytes for the InvokeFunction operation` }, { "x-amzn-errortype": "RequestEntityTooLargeException" });
        }
        let event: unknown = {};
        if (text.trim() !== "") {
          try {
            event = JSON.parse(text);
          } catch (err) {
            return reply(res, 400, { Type: "User", message: `Could not parse request body into json: ${(err as Error).message}` }, { "x-amzn-errortype": "InvalidRequestContentException" });
          }
        }
        if (type === "Event") {
          void emulator.invokeAsync(event);
          return reply(res, 202, undefined);
        }
        if (type === "DryRun") return reply(res, 204, undefined);
        const outcome = await emulator.invoke(event);
        if (outcome.ok) reply(res, 200, outcome.result, { "x-amzn-requestid": outcome.requestId });
        else reply(res, 200, outcome.error, { "x-amzn-requestid": outcome.requestId, "x-amz-function-error": "Unhandled" });
      } catch (err) {
        reply(res, 500, { message: (err as Error).message });
      }
    },
    (_req, res, why) => reply(res, why.status, { Type: "User", message: why.message }, { "x-amzn-errortype": "AccessDeniedException" }),
  );
  const actual = await listenOnLoopback(server, port, "the invoke URL");
  return {
    endpoint: `http://127.0.0.1:${actual}`,
    port: actual,
    close: () => closeServer(server),
  };
}
