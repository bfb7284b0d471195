/**
 * The local Function URL in front of the real emulator (worker processes), with a small fixture
 * function: the payload 2.0 event it builds, the response mapping, Lambda's errors, the 6 MB
 * limit, and the loopback Host/Origin rule with CORS for a configured origin.
 */
import { request } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { effectiveCors } from "../../src/config.js";
import { LambdaEmulator, type InvocationRecord } from "../../src/local/emulator.js";
import { type FunctionUrlServer, startFunctionUrlServer } from "../../src/local/function-url.js";
import { LogWriter } from "../../src/local/logs.js";
import type { LogEvent } from "../../src/target.js";
import { parseReport } from "../../src/ui/logs.js";

const fixture = fileURLToPath(new URL("../fixtures/functions/http/", import.meta.url));
const ALLOWED = "https://app.example.com";
let dir: string;
let emulator: LambdaEmulator;
let server: FunctionUrlServer;
const events: LogEvent[] = [];
const invocations: InvocationRecord[] = [];

/** A raw HTTP request (fetch will not send a custom Host). */
function raw(path: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<{ status: number; headers: Record<string, any>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, path, method: opts.method ?? "GET", headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "imgfn-url-"));
  const writer = new LogWriter(join(dir, "logs"));
  writer.subscribe((e) => events.push(e));
  emulator = new LambdaEmulator({ taskRoot: fixture, functionName: "imgfn-url", memory: 256, timeout: 1, concurrency: 2, retries: 2, region: "eu-west-1", environment: {}, log: (e) => writer.write(e) });
  emulator.on("invocation", (r: InvocationRecord) => invocations.push(r));
  server = await startFunctionUrlServer(emulator, { region: "eu-west-1", cors: effectiveCors({ auth: "NONE", cors: { allowOrigins: [ALLOWED] } }), payloadLimit: 1024 * 1024 });
});
afterAll(async () => {
  await server?.close();
  await emulator?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("local Function URL", () => {
  it("listens on 127.0.0.1 only and turns a request into a payload 2.0 event", async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const body = Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x80]);
    const res = await fetch(`${server.url}classify?top=3&x=1&x=2`, { method: "POST", headers: { "content-type": "image/jpeg", cookie: "a=1; b=2", "x-multi": "v" }, body });
    expect(res.status).toBe(200);
    const requestId = res.headers.get("x-amzn-requestid");
    const { event } = ((await res.json()) as any);
    expect(event).toMatchObject({
      version: "2.0",
      routeKey: "$default",
      rawPath: "/classify",
      rawQueryString: "top=3&x=1&x=2",
      cookies: ["a=1", "b=2"],
      queryStringParameters: { top: "3", x: "1,2" },
      isBase64Encoded: true,
      requestContext: { http: { method: "POST", path: "/classify", protocol: "HTTP/1.1", sourceIp: "127.0.0.1" }, requestId, stage: "$default", domainName: "local.lambda-url.eu-west-1.on.aws" },
    });
    expect(event.headers).toMatchObject({ "content-type": "image/jpeg", "x-multi": "v", host: `127.0.0.1:${server.port}` });
    expect(Buffer.from(event.body, "base64")).toEqual(body);
    // a text type travels as text, as Lambda sends it
    const text = ((await (await fetch(server.url, { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' })).json()) as any);
    expect(text.event).toMatchObject({ body: '{"a":1}', isBase64Encoded: false });
  });

  it("maps results like Lambda: no statusCode means a JSON body with 200; base64 bodies are decoded", async () => {
    const plain = await fetch(`${server.url}plain`);
    expect(plain.status).toBe(200);
    expect(((await plain.json()) as any)).toEqual({ hello: "world" });
    const bin = await fetch(`${server.url}binary`);
    expect(bin.status).toBe(201);
    expect(bin.headers.get("x-custom")).toBe("yes");
    expect(Buffer.from(await bin.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it("a function error or a timeout answers 502 like a Function URL, with REPORT lines as for any invocation", async () => {
    const failed = await fetch(`${server.url}fail`);
    expect(failed.status).toBe(502);
    expect(((await failed.json()) as any)).toEqual({ Message: "Internal Server Error" });
    expect(failed.headers.get("x-amzn-errortype")).toBe("Error");
    const slow = await fetch(`${server.url}sleep?ms=3000`);
    expect(slow.status).toBe(502);
    expect(slow.headers.get("x-amzn-errortype")).toBe("Sandbox.Timedout");
    const id = slow.headers.get("x-amzn-requestid")!;
    const report = events.find((e) => parseReport(e.message)?.requestId === id);
    expect(report?.message).toContain("Status: timeout");
    expect(events.some((e) => e.message.includes(`${id} Task timed out after 1.00 seconds`))).toBe(true);
  });

  it("runs through the emulator's concurrency limit: 6 parallel requests run on at most 2 workers", async () => {
    const before = invocations.length;
    const answers = await Promise.all(Array.from({ length: 6 }, () => fetch(`${server.url}sleep?ms=200`).then(async (r) => ({ status: r.status, pid: (((await r.json()) as any)).pid }))));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const ran = invocations.slice(before);
    expect(ran).toHaveLength(6);
    expect(new Set(ran.map((r) => r.pid)).size).toBeLessThanOrEqual(2);
  });

  it("refuses a body over the payload limit with 413, without invoking the function", async () => {
    const before = invocations.length;
    const res = await fetch(server.url, { method: "POST", headers: { "content-type": "image/jpeg" }, body: Buffer.alloc(1024 * 1024 + 1) });
    expect(res.status).toBe(413);
    const doc = ((await res.json()) as any);
    expect(doc.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(doc.error.message).toContain("6 MB");
    // under the limit as bytes, over it once base64-encoded in the invocation payload
    const inflated = await fetch(server.url, { method: "POST", headers: { "content-type": "image/jpeg" }, body: Buffer.alloc(900 * 1024) });
    expect(inflated.status).toBe(413);
    expect((((await inflated.json()) as any)).error.message).toContain("base64");
    expect(invocations.length).toBe(before);
  });

  it("refuses a foreign Host (DNS rebinding) and a foreign Origin; localhost:port and its own origin are fine", async () => {
    const evil = await raw("/plain", { headers: { host: "evil.example.com" } });
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body.toString()).error.code).toBe("FORBIDDEN");
    expect((await raw("/plain", { headers: { host: `127.0.0.1:${server.port + 1}` } })).status).toBe(403);
    expect((await raw("/plain", { headers: { host: `localhost:${server.port}` } })).status).toBe(200);
    const foreign = await raw("/plain", { headers: { host: `127.0.0.1:${server.port}`, origin: "https://evil.example.com" } });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body.toString()).error.message).toContain("http.cors.allowOrigins");
    const own = await raw("/plain", { headers: { host: `localhost:${server.port}`, origin: `http://localhost:${server.port}` } });
    expect(own.status).toBe(200);
    expect(own.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("CORS for the configured origin: preflight answered by the URL, responses carry Access-Control-Allow-Origin", async () => {
    const before = invocations.length;
    const preflight = await raw("/classify", { method: "OPTIONS", headers: { host: `127.0.0.1:${server.port}`, origin: ALLOWED, "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers).toMatchObject({ "access-control-allow-origin": ALLOWED, "access-control-allow-methods": "GET,POST", "access-control-max-age": "300" });
    expect(preflight.headers["access-control-allow-headers"]).toContain("content-type");
    expect(invocations.length).toBe(before);
    const res = await raw("/plain", { headers: { host: `127.0.0.1:${server.port}`, origin: ALLOWED } });
    expect(res.status).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBe(ALLOWED);
  });
});
