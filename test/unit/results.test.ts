// The pieces of `results`, `report` and the live page that need no server: terminal layout,
// summary figures and cost, the report's HTML embedding, log lines, and the page's request rules.
import { describe, expect, it } from "vitest";
import { LogLineReader } from "../../src/local/page/log-lines.js";
import { refusalReason } from "../../src/local/page/origin.js";
import { uploadKey } from "../../src/local/page/server.js";
import { toRow, type ResultRow } from "../../src/results/read.js";
import { renderReportHtml, scriptSafeJson } from "../../src/results/report.js";
import { costPer1000, percentile, summarize } from "../../src/results/summary.js";
import { barLines, resultTable } from "../../src/results/text.js";
import { displayWidth, truncate } from "../../src/ui/width.js";
import type { ReportLine } from "../../src/ui/logs.js";

const row = (key: string, over: Partial<ResultRow> = {}): ResultRow => ({
  resultKey: `results/${key}.json`,
  key: `uploads/${key}`,
  status: "classified",
  top1: { label: "tabby", score: 0.5 },
  predictions: [{ label: "tabby", score: 0.5 }],
  functionMs: 20,
  when: Date.UTC(2026, 0, 1),
  ...over,
});

describe("terminal rows", () => {
  it("truncates by display columns: CJK counts two, the ellipsis one, middle cuts keep both ends", () => {
    expect(displayWidth("猫.jpg")).toBe(6);
    expect(truncate("uploads/very/long/name.jpg", 12, "middle")).toBe("upload…e.jpg");
    expect(displayWidth(truncate("猫猫猫猫猫猫", 5))).toBeLessThanOrEqual(5);
    expect(truncate("short", 10)).toBe("short");
    expect(truncate("abc", 1)).toBe("…");
  });

  it("keeps every line within the width, shrinking the key before the outcome", () => {
    const rows = [row("a".repeat(80) + ".jpg"), row("b.jpg", { status: "error", top1: undefined, predictions: [], error: { code: "NOT_AN_IMAGE", message: "x" } })];
    for (const width of [30, 50, 80, 200]) {
      const lines = resultTable(rows, { width, now: Date.UTC(2026, 0, 1, 0, 5) });
      expect(lines).toHaveLength(3);
      for (const l of lines) expect(displayWidth(l)).toBeLessThanOrEqual(width);
      expect(lines[1]).toMatch(/5m ago$/);
    }
    const wide = resultTable(rows, { width: 200, now: Date.UTC(2026, 0, 1, 0, 5) });
    expect(wide[1]).toContain("a".repeat(80) + ".jpg");
    expect(wide[2]).toContain("NOT_AN_IMAGE");
    // no width (a pipe): nothing is cut
    expect(resultTable(rows)[1]).toContain("a".repeat(80));
  });

  it("shows control characters in keys as escapes, so a key cannot break a row or drive the terminal", () => {
    const lines = resultTable([row("two\nlines\x1b[31m.jpg")], { now: Date.UTC(2026, 0, 1) });
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain("uploads/two\\nlines\\x1b[31m.jpg");
    expect(lines.join("")).not.toMatch(/[\n\x1b]/);
  });

  it("draws bars proportional to the scores", () => {
    const [a, b] = barLines([{ label: "tabby", score: 0.75 }, { label: "tiger cat", score: 0.25 }], 60);
    const filled = (s: string) => [...s].filter((c) => c === "█").length;
    const total = (s: string) => filled(s) + [...s].filter((c) => c === "░").length;
    expect(filled(a) / total(a)).toBeCloseTo(0.75, 1);
    expect(filled(b) / total(b)).toBeCloseTo(0.25, 1);
    expect(a).toContain("75.0%");
    expect(displayWidth(a)).toBeLessThanOrEqual(60);
  });
});

describe("result documents → rows", () => {
  const obj = { key: "results/x.jpg.json", lastModified: 1000, size: 10 };
  it("reads classifications, errors and documents that are neither", () => {
    expect(toRow(obj, { input: { bucket: "b", key: "uploads/x.jpg" }, predictions: [{ label: "cup", index: 1, score: 0.9 }], timings: { total: 12 }, timestamp: "2026-01-01T00:00:00.000Z" })).toMatchObject({
      key: "uploads/x.jpg",
      status: "classified",
      top1: { label: "cup", score: 0.9 },
      functionMs: 12,
      when: Date.parse("2026-01-01T00:00:00.000Z"),
    });
    expect(toRow(obj, { input: { bucket: "b", key: "uploads/x.jpg" }, error: { code: "EMPTY_OBJECT", message: "empty" } })).toMatchObject({ status: "error", error: { code: "EMPTY_OBJECT" }, when: 1000 });
    expect(toRow(obj, {} as any)).toMatchObject({ status: "unreadable", error: { code: "UNREADABLE_RESULT" } });
    expect(toRow(obj, undefined, "not JSON: Unexpected token")).toMatchObject({ status: "unreadable", key: "results/x.jpg.json", error: { message: "not JSON: Unexpected token" } });
  });
});

describe("summary figures", () => {
  it("nearest-rank percentiles", () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 50)).toBeUndefined();
  });

  it("cost per 1000 images from billed duration and memory, at the stated list price", () => {
    // 100 ms at 1024 MB = 0.1 GB-s per image; 1000 images = 100 GB-s × $0.0000166667 + 1000 requests × $0.0000002
    expect(costPer1000(100, 1024, "x86_64")).toBeCloseTo(100 * 0.0000166667 + 0.0002, 10);
    expect(costPer1000(100, 1024, "arm64")).toBeLessThan(costPer1000(100, 1024, "x86_64"));
  });

  it("matches REPORT lines to the results by request id; counts cold starts and the memory high-water mark", () => {
    const rows = [row("a.jpg", { requestId: "r1", functionMs: 10 }), row("b.jpg", { requestId: "r2", functionMs: 30, top1: { label: "cup", score: 1 } }), row("c.jpg", { requestId: "r3", status: "error", top1: undefined, error: { code: "NOT_AN_IMAGE", message: "" } })];
    const report = (requestId: string, billed: number, mem: number, init?: number): ReportLine => ({ requestId, duration: billed - 1, billedDuration: billed, memorySize: 1024, maxMemoryUsed: mem, initDuration: init });
    const s = summarize(rows, [report("r1", 300, 120, 250), report("r2", 40, 130), report("r3", 20, 110), report("other", 5000, 900)]);
    expect(s.byStatus).toEqual({ classified: 2, error: 1 });
    expect(s.topLabels).toEqual([{ label: "cup", count: 1 }, { label: "tabby", count: 1 }]);
    expect(s.errorCodes).toEqual([{ code: "NOT_AN_IMAGE", count: 1 }]);
    expect(s.functionMs).toMatchObject({ p50: 20, p95: 30, samples: 3 });
    expect(s).toMatchObject({ reports: 3, coldStarts: 1, maxMemoryUsedMb: 130, memorySizeMb: 1024 });
    expect(s.billedMs.mean).toBe(120);
    expect(s.cost!.per1000Images).toBeCloseTo(costPer1000(120, 1024, "x86_64"), 10);
    expect(s.cost!.assumption).toContain("$0.0000166667 per GB-second");
    // without REPORT lines: no cost is made up
    expect(summarize(rows, []).cost).toBeUndefined();
  });
});

describe("the report's HTML", () => {
  it("embeds the data so that no key can end the script element", () => {
    expect(scriptSafeJson({ k: "</script><script>alert(1)</script>" })).not.toContain("<");
    const html = renderReportHtml({
      title: "t",
      generatedAt: new Date(0).toISOString(),
      source: "s",
      summary: summarize([], []),
      cards: [{ key: "uploads/</script><script>alert(1)</script>.jpg", resultKey: "r", status: "classified", predictions: [{ label: "$& $1", score: 1 }], when: new Date(0).toISOString() }],
    });
    expect(html.match(/<\/script>/g)).toHaveLength(2); // the data's and the code's own
    expect(html).toContain('"label":"$& $1"'); // "$" patterns are not expanded by the template fill
    expect(html).not.toMatch(/\/\*imgfn:(css|js|data)\*\//);
  });
});

describe("the live page's rules", () => {
  it("accepts only its own Host and Origin", () => {
    expect(refusalReason({ headers: { host: "127.0.0.1:4000" } }, 4000)).toBeUndefined();
    expect(refusalReason({ headers: { host: "localhost:4000", origin: "http://localhost:4000" } }, 4000)).toBeUndefined();
    expect(refusalReason({ headers: { host: "127.0.0.1:4000", origin: "http://127.0.0.1:4000" } }, 4000)).toBeUndefined();
    expect(refusalReason({ headers: { host: "attacker.example:4000" } }, 4000)).toMatch(/Host/);
    expect(refusalReason({ headers: {} }, 4000)).toMatch(/Host/);
    expect(refusalReason({ headers: { host: "127.0.0.1:4000", origin: "http://attacker.example" } }, 4000)).toMatch(/Origin/);
    expect(refusalReason({ headers: { host: "127.0.0.1:4000", origin: "null" } }, 4000)).toMatch(/Origin/);
  });

  it("uploads a plain file name under the input prefix, or says why not", () => {
    const rules = { inputPrefix: "uploads/", outputPrefix: "results/", suffixes: [".jpg", ".png"] };
    expect(uploadKey("café 猫.jpg", rules)).toBe("uploads/café 猫.jpg");
    expect(() => uploadKey("../x.jpg", rules)).toThrow(/plain file name/);
    expect(() => uploadKey("a\\b.jpg", rules)).toThrow(/plain file name/);
    expect(() => uploadKey("x.JPG", rules)).toThrow(/case-sensitive/);
    expect(() => uploadKey(null, rules)).toThrow(/name=/);
    expect(uploadKey("x.gif", { ...rules, suffixes: [] })).toBe("uploads/x.gif");
  });

  it("names the image on its REPORT line and tells cold from warm", () => {
    const reader = new LogLineReader();
    const id = "11111111-2222-3333-4444-555555555555";
    reader.read({ timestamp: 1, message: `START RequestId: ${id} Version: $LATEST` });
    const classified = reader.read({ timestamp: 2, message: `2026-01-01T00:00:00.000Z\t${id}\tINFO\t${JSON.stringify({ level: "info", msg: "classified", requestId: id, key: "uploads/a.jpg", top1: "tabby", score: 0.5, timings: { total: 12 }, coldStart: true })}` });
    expect(classified).toMatchObject({ kind: "classified", key: "uploads/a.jpg", cold: true, durationMs: 12, top1: { label: "tabby", score: 0.5 } });
    const report = reader.read({ timestamp: 3, message: `REPORT RequestId: ${id}\tDuration: 20.50 ms\tBilled Duration: 300 ms\tMemory Size: 1024 MB\tMax Memory Used: 120 MB\tInit Duration: 250.00 ms\t` });
    expect(report).toMatchObject({ kind: "report", key: "uploads/a.jpg", cold: true, durationMs: 20.5, billedMs: 300, initMs: 250, memoryUsedMb: 120, memorySizeMb: 1024 });
    const warm = reader.read({ timestamp: 4, message: `REPORT RequestId: other\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 1024 MB\tMax Memory Used: 121 MB\t` });
    expect(warm).toMatchObject({ kind: "report", cold: false, key: undefined });
  });
});
