// The live page of `imgfn dev` in real headless Chromium: an image chosen with the upload control
// goes through the page's own server into the local S3, the function classifies it, and its card
// and log lines appear. Plus the server's Host/Origin rule and upload limits, over plain HTTP.
import { HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { request } from "node:http";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localS3Client } from "../../src/local/s3.js";
import { artefactsDir, chromiumUnavailable, launchChromium } from "../helpers/browser.js";
import { startDev, type DevProcess } from "../helpers/dev.js";
import { imgfn, sample } from "../e2e/helpers.js";

const skipBrowser = chromiumUnavailable();
let project: string;
let dev: DevProcess;
let url: URL;
let s3: S3Client;

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "imgfn-browser-live-"));
  dev = await startDev(project);
  url = new URL(dev.state.dashboardUrl);
  s3 = localS3Client(dev.state.s3Endpoint);
});

afterAll(async () => {
  s3?.destroy();
  await dev?.stop();
  if (project) await rm(project, { recursive: true, force: true });
});

/** A raw HTTP request, so Host and Origin can be anything a hostile page or rebinding DNS would send. */
function raw(opts: { method?: string; path: string; headers?: Record<string, string | number>; body?: Buffer | string; sendBody?: boolean }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: url.port, method: opts.method ?? "GET", path: opts.path, headers: opts.headers }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (opts.sendBody === false) req.flushHeaders();
    else req.end(opts.body);
  });
}

const exists = (key: string) => s3.send(new HeadObjectCommand({ Bucket: dev.state.bucket, Key: key })).then(() => true, () => false);

describe("the live page's server", () => {
  it("listens on loopback, and dev records and prints its URL", async () => {
    expect(url.hostname).toBe("127.0.0.1");
    const file = JSON.parse(await readFile(join(project, ".imgfn", "local", "dev.json"), "utf8"));
    expect(file.dashboardUrl).toBe(dev.state.dashboardUrl);
    const page = await raw({ path: "/", headers: { host: `localhost:${url.port}` } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script src="/assets/live.js"');
  });

  it("refuses a Host that is not its own loopback address (DNS rebinding) with 403", async () => {
    for (const host of [`evil.example:${url.port}`, `127.0.0.1:${Number(url.port) + 1}`, "127.0.0.1", `localhost.evil.example:${url.port}`]) {
      const res = await raw({ path: "/api/results", headers: { host } });
      expect(res.status, host).toBe(403);
      expect(JSON.parse(res.body).error).toContain("is not this server");
    }
  });

  it("refuses an upload from another origin (403) and writes nothing", async () => {
    const cat = await readFile(sample("cat.jpg"));
    for (const origin of ["http://evil.example", `http://127.0.0.1:${Number(url.port) + 1}`, "null"]) {
      const res = await raw({ method: "POST", path: "/api/upload?name=cross-site.jpg", headers: { host: url.host, origin, "content-type": "image/jpeg" }, body: cat });
      expect(res.status, origin).toBe(403);
    }
    expect(await exists("uploads/cross-site.jpg")).toBe(false);
  });

  it("bounds the upload: over maxBytes is 413 before the body is read; bad names and empty bodies are 400", async () => {
    const big = await raw({ method: "POST", path: "/api/upload?name=huge.jpg", headers: { host: url.host, "content-length": 25 * 1024 * 1024 }, sendBody: false });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body).error).toContain("over the 20971520-byte limit");
    const own = { host: url.host, origin: url.origin };
    const cases: [string, Buffer | string, string][] = [
      ["/api/upload?name=..%2Fescape.jpg", "x", "not a plain file name"],
      ["/api/upload?name=notes.txt", "x", "the trigger would not fire"],
      ["/api/upload", "x", "needs ?name="],
      ["/api/upload?name=empty.jpg", "", "empty"],
    ];
    for (const [path, body, message] of cases) {
      const res = await raw({ method: "POST", path, headers: own, body });
      expect(res.status, path).toBe(400);
      expect(JSON.parse(res.body).error).toContain(message);
    }
    expect(await exists("uploads/huge.jpg")).toBe(false);
    expect(await exists("uploads/empty.jpg")).toBe(false);
    expect((await raw({ method: "GET", path: "/api/upload?name=a.jpg", headers: own })).status).toBe(405);
    expect((await raw({ path: "/nope", headers: own })).status).toBe(404);
  });
});

describe.skipIf(skipBrowser)("the live page in Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("an image chosen with the upload control appears as a new card with its top-1, and its log lines stream", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const outside: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(url.origin)) outside.push(r.url());
    });
    await page.goto(dev.state.dashboardUrl);
    await page.waitForFunction(() => document.getElementById("connection")?.textContent?.startsWith("connected"));
    expect(await page.$$(".card")).toHaveLength(0);
    await page.setInputFiles("#file", { name: "live cat.jpg", mimeType: "image/jpeg", buffer: await readFile(sample("cat.jpg")) });
    const card = page.locator('.card[data-key="uploads/live cat.jpg"]');
    await card.locator(".bar").first().waitFor({ timeout: 60_000 });
    const result = JSON.parse((await imgfn(["--json", "results", "--local", "uploads/live cat.jpg"], project)).stdout);
    expect(result.top1.label).toMatch(/cat/i);
    expect(await card.locator(".bar").first().getAttribute("data-label")).toBe(result.top1.label);
    expect(await card.locator(".bar .bar-value").allTextContents()).toEqual(result.predictions.map((p: any) => `${(p.score * 100).toFixed(1)}%`));
    await page.waitForFunction(() => {
      const img = document.querySelector('.card[data-key="uploads/live cat.jpg"] img') as HTMLImageElement | null;
      return img?.complete && img.naturalWidth > 0;
    });
    // the function's lines for this image: its classification, then REPORT with cold/warm, duration, memory
    const report = page.locator('#log li[data-kind="report"][data-key="uploads/live cat.jpg"]');
    await report.waitFor({ timeout: 30_000 });
    expect(await report.textContent()).toMatch(/REPORT uploads\/live cat\.jpg (cold|warm) [\d.]+ m?s \(billed \d+ ms\).*\d+\/1024 MB/);
    expect(await page.locator('#log li[data-kind="classified"][data-key="uploads/live cat.jpg"]').textContent()).toContain(result.top1.label);
    await page.waitForFunction((label) => document.getElementById("uploads")?.textContent?.includes(`uploads/live cat.jpg: ${label}`), result.top1.label);
    await page.screenshot({ path: join(artefactsDir(), "live-page.png"), fullPage: true });

    // a bad file gets its error card; a reload lists what is there already
    await page.setInputFiles("#file", { name: "broken.jpg", mimeType: "image/jpeg", buffer: Buffer.from("not a jpeg") });
    await page.locator('.card[data-key="uploads/broken.jpg"] .error-code').waitFor({ timeout: 60_000 });
    expect(await page.textContent('.card[data-key="uploads/broken.jpg"] .error-code')).toBe("NOT_AN_IMAGE");
    await page.reload();
    await page.locator('.card[data-key="uploads/live cat.jpg"] .bar').first().waitFor();
    expect(await page.$$eval(".card", (els) => els.map((e) => e.getAttribute("data-key")))).toEqual(["uploads/broken.jpg", "uploads/live cat.jpg"]);
    // a refused upload is shown as such, not silently dropped
    await page.setInputFiles("#file", { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("x") });
    await page.locator("#uploads .failed").waitFor();
    expect(await page.textContent("#uploads .failed")).toContain("the trigger would not fire");
    expect(outside).toEqual([]);
    const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    expect(scroll).toBeLessThanOrEqual(client);
    await page.close();
  });
});

describe("stopping dev", () => {
  it("closes the live page with the rest of the stack", async () => {
    const page = dev.state.dashboardUrl;
    expect((await fetch(page)).status).toBe(200);
    await dev.stop();
    expect(dev.child.exitCode).toBe(0);
    await expect(fetch(page)).rejects.toThrow();
  });
});
