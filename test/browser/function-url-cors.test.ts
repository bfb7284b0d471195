/**
 * CORS of the local Function URL in a real browser (headless Chromium through playwright-core):
 * a page on the configured origin POSTs an image (a preflighted request) and reads the answer; a
 * page on any other origin is refused.
 */
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { effectiveCors } from "../../src/config.js";
import { LambdaEmulator, type InvocationRecord } from "../../src/local/emulator.js";
import { type FunctionUrlServer, startFunctionUrlServer } from "../../src/local/function-url.js";
import { LogWriter } from "../../src/local/logs.js";

const CHROMIUM = "/usr/bin/chromium";
const fixture = fileURLToPath(new URL("../fixtures/functions/http/", import.meta.url));
let dir: string;
let emulator: LambdaEmulator;
let url: FunctionUrlServer;
let browser: Browser;
const pages: Server[] = [];
const invocations: InvocationRecord[] = [];

async function pageServer(): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>app</title>");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  pages.push(server);
  return `http://127.0.0.1:${(server.address() as any).port}`;
}

/** fetch() from a page on `origin`: the status and body, or the browser's error. */
async function postFrom(origin: string): Promise<{ status?: number; body?: any; error?: string }> {
  const page = await browser.newPage();
  try {
    await page.goto(origin);
    return await page.evaluate(async (target) => {
      try {
        const res = await fetch(target, { method: "POST", headers: { "content-type": "image/jpeg" }, body: new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3]) });
        return { status: res.status, body: await res.json() };
      } catch (err) {
        return { error: String(err) };
      }
    }, url.url);
  } finally {
    await page.close();
  }
}

let allowed: string;
let other: string;

describe.skipIf(!existsSync(CHROMIUM))("the local Function URL in a browser", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "imgfn-cors-"));
    const writer = new LogWriter(join(dir, "logs"));
    emulator = new LambdaEmulator({ taskRoot: fixture, functionName: "imgfn-cors", memory: 256, timeout: 5, concurrency: 1, retries: 0, region: "us-east-1", environment: {}, log: (e) => writer.write(e) });
    emulator.on("invocation", (r: InvocationRecord) => invocations.push(r));
    allowed = await pageServer();
    other = await pageServer();
    url = await startFunctionUrlServer(emulator, { cors: effectiveCors({ auth: "NONE", cors: { allowOrigins: [allowed] } }) });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await url?.close();
    await emulator?.close();
    for (const p of pages) await new Promise((r) => p.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it("a page on the allowed origin gets through the preflight and reads the function's answer", async () => {
    const r = await postFrom(allowed);
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(200);
    expect(r.body.event).toMatchObject({ rawPath: "/", isBase64Encoded: true, headers: { origin: allowed, "content-type": "image/jpeg" } });
  });

  it("a page on another origin is refused, and the function never runs for it", async () => {
    const before = invocations.length;
    const r = await postFrom(other);
    expect(r.status).toBeUndefined();
    expect(r.error).toMatch(/Failed to fetch/);
    expect(invocations.length).toBe(before);
  });
});
