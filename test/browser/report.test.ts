// The HTML report in real headless Chromium: a report of the sample images plus one bad file,
// made by `imgfn report --local` against the real local stack, opened from disk with no network.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { artefactsDir, chromiumUnavailable, launchChromium } from "../helpers/browser.js";
import { startDev, type DevProcess } from "../helpers/dev.js";
import { imgfn, sample } from "../e2e/helpers.js";

const skip = chromiumUnavailable();
let project: string;
let dev: DevProcess;
let browser: Browser;
let results: any[];
let report: any;
let reportFile: string;

beforeAll(async () => {
  if (skip) return;
  project = await mkdtemp(join(tmpdir(), "imgfn-browser-report-"));
  dev = await startDev(project);
  await writeFile(join(project, "not-a-photo.jpg"), "plain text, not a JPEG");
  const upload = await imgfn(["upload", "--local", sample("cat.jpg"), sample("espresso.jpg"), "not-a-photo.jpg"], project);
  expect(upload.exitCode).toBe(1); // the bad file got an error result, as it should
  results = JSON.parse((await imgfn(["--json", "results", "--local"], project)).stdout).results;
  reportFile = join(project, "out", "report.html");
  await import("node:fs/promises").then((fs) => fs.mkdir(join(project, "out")));
  const made = await imgfn(["--json", "report", "--local", "--output", reportFile], project);
  expect(made.stderr).toBe("");
  expect(made.exitCode).toBe(0);
  report = JSON.parse(made.stdout);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await dev?.stop();
  if (project) await rm(project, { recursive: true, force: true });
});

async function open(width: number, height: number): Promise<{ page: Page; requests: string[] }> {
  const page = await browser.newPage({ viewport: { width, height } });
  const requests: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(`file://${reportFile}`);
  await page.waitForFunction(() => [...document.images].every((img) => img.complete));
  return { page, requests };
}

describe.skipIf(skip)("imgfn report in Chromium", () => {
  it("writes one file and prints its size", async () => {
    const html = await readFile(reportFile, "utf8");
    expect(report).toMatchObject({ output: reportFile, bytes: Buffer.byteLength(html), results: 3, thumbnails: 2 });
    // self-contained: no external fonts, scripts, styles or CDNs
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(\s*["']?https?:/i);
  });

  it("every card's image has loaded, the bars match the JSON results, and the error card shows its code", async () => {
    const { page, requests } = await open(1280, 800);
    const cards = await page.$$eval(".card", (els) =>
      els.map((el) => {
        const img = el.querySelector("img")!;
        return {
          key: el.getAttribute("data-key"),
          status: el.getAttribute("data-status"),
          naturalWidth: img.naturalWidth,
          bars: [...el.querySelectorAll(".bar")].map((b) => ({ label: b.getAttribute("data-label"), score: Number(b.getAttribute("data-score")), text: b.textContent, width: (b.querySelector(".fill") as HTMLElement).style.width })),
          code: el.querySelector(".error-code")?.textContent,
          message: el.querySelector(".error-message")?.textContent,
        };
      }),
    );
    expect(cards.map((c) => c.key).sort()).toEqual(results.map((r) => r.key).sort());
    for (const card of cards) {
      expect(card.naturalWidth, `${card.key}'s image`).toBeGreaterThan(0);
      const result = results.find((r) => r.key === card.key);
      expect(card.status).toBe(result.status);
      if (result.status === "classified") {
        expect(card.bars.map((b) => ({ label: b.label, score: b.score }))).toEqual(result.predictions.map((p: any) => ({ label: p.label, score: p.score })));
        card.bars.forEach((b, i) => {
          expect(b.text).toContain(`${(result.predictions[i].score * 100).toFixed(1)}%`);
          expect(parseFloat(b.width)).toBeCloseTo(result.predictions[i].score * 100, 0);
        });
      } else {
        expect(card.code).toBe("NOT_AN_IMAGE");
        expect(card.code).toBe(result.error.code);
        expect(card.message).toBe(result.error.message);
      }
    }
    // the two photos have real thumbnails (WebP data URIs); the bad file a drawn placeholder
    const sources = await page.$$eval(".card img", (imgs) => imgs.map((i) => (i as HTMLImageElement).src.slice(0, 22)));
    expect(sources.filter((s) => s.startsWith("data:image/webp"))).toHaveLength(2);
    expect(requests.every((u) => u.startsWith("file://") || u.startsWith("data:"))).toBe(true);
    await page.screenshot({ path: join(artefactsDir(), "report.png"), fullPage: true });
    await page.close();
  });

  it("shows the summary: counts by status, top labels, p50/p95, cold starts, memory, cost with its assumption", async () => {
    const { page } = await open(1280, 800);
    const text = await page.textContent(".summary");
    expect(text).toContain("3");
    expect(text).toMatch(/2 classified, 1 error|1 error, 2 classified/);
    expect(text).toMatch(/function time p50 \/ p95\s*[\d.]+ m?s \/ [\d.]+ m?s/);
    expect(text).toMatch(/cold starts\s*[12]/);
    expect(text).toMatch(/\d+ \/ 1024 MB/);
    expect(text).toMatch(/\$\d+\.\d{4}/);
    expect(text).toContain("Cost assumption: AWS Lambda on-demand list prices in us-east-1");
    expect(report.summary.reports).toBe(3);
    await page.close();
  });

  it("filters by status and label with the keyboard", async () => {
    const { page } = await open(1280, 800);
    const visible = () => page.$$eval(".card", (els) => els.filter((e) => !(e as HTMLElement).hidden).map((e) => e.getAttribute("data-key")));
    // Tab reaches the status filter first (nothing focusable comes before it)
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("filter-status");
    await page.selectOption("#filter-status", "error");
    expect(await visible()).toEqual(["uploads/not-a-photo.jpg"]);
    expect(await page.textContent(".count")).toBe("1 of 3 shown");
    await page.selectOption("#filter-status", "");
    const espresso = results.find((r) => r.key === "uploads/espresso.jpg").top1.label;
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("filter-label");
    await page.selectOption("#filter-label", espresso);
    expect(await visible()).toEqual(["uploads/espresso.jpg"]);
    await page.selectOption("#filter-label", "");
    await page.keyboard.press("Tab");
    await page.keyboard.type("cat");
    expect(await visible()).toEqual(["uploads/cat.jpg"]);
    // the cards themselves take focus, in order
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("data-key"))).toBe("uploads/cat.jpg");
    await page.close();
  });

  it("has no horizontal scroll at 1280×800 or at a phone's width", async () => {
    for (const [w, h] of [[1280, 800], [375, 740], [320, 640]]) {
      const { page } = await open(w, h);
      const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
      expect(scroll, `${w}px wide`).toBeLessThanOrEqual(client);
      if (w === 375) await page.screenshot({ path: join(artefactsDir(), "report-phone.png"), fullPage: true });
      await page.close();
    }
  });
});
