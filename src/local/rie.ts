/**
 * The Lambda Runtime Interface Emulator's invoke URL, so the container docs' check works:
 *   curl -XPOST "http://127.0.0.1:<port>/2015-03-31/functions/function/invocations" -d @event.json
 * RequestResponse returns the handler's result (or Lambda's error shape with
 * X-Amz-Function-Error); "X-Amz-Invocation-Type: Event" queues it like S3 does and answers 202.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { LambdaEmulator } from "./emulator.js";

export interface InvokeServer {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

export const INVOKE_PATH = "/2015-03-31/functions/function/invocations";
const INVOKE_ROUTE = /^\/2015-03-31\/functions\/[^/]+\/invocations\/?(?:\?.*)?$/;

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startInvokeServer(emulator: LambdaEmulator, port = 0): Promise<InvokeServer> {
  const server: Server = createServer(async (req, res) => {
    try {
      if (!INVOKE_ROUTE.test(req.url ?? "")) return reply(res, 404, { message: `no route for ${req.method} ${req.url}; invoke with POST ${INVOKE_PATH}` });
      if (req.method !== "POST") return reply(res, 405, { message: "use POST" });
      const text = await readBody(req);
      let event: unknown = {};
      if (text.trim() !== "") {
        try {
          event = JSON.parse(text);
        } catch (err) {
          return reply(res, 400, { Type: "User", message: `Could not parse request body into json: ${(err as Error).message}` }, { "x-amzn-errortype": "InvalidRequestContentException" });
        }
      }
      const type = String(req.headers["x-amz-invocation-type"] ?? "RequestResponse");
      if (type === "Event") {
        const pending = emulator.invokeAsync(event);
        void pending;
        return reply(res, 202, undefined);
      }
      if (type === "DryRun") return reply(res, 204, undefined);
      const outcome = await emulator.invoke(event);
      if (outcome.ok) reply(res, 200, outcome.result, { "x-amzn-requestid": outcome.requestId });
      else reply(res, 200, outcome.error, { "x-amzn-requestid": outcome.requestId, "x-amz-function-error": "Unhandled" });
    } catch (err) {
      reply(res, 500, { message: (err as Error).message });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen for invocations on 127.0.0.1:${port}: ${err.code ?? err.message}`, { cause: err })),
    );
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${actual}`,
    port: actual,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
