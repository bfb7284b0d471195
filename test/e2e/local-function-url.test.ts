// End to end through `imgfn dev` (real model, real worker processes): the local Function URL with
// curl and with `imgfn classify`, 20 parallel requests with cold then warm starts, the 413 limit.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseReport } from "../../src/ui/logs.js";
import { startDev, type DevProcess } from "../helpers/dev.js";
import { CAT_CLASSES } from "../helpers/images.js";
import { imgfn, sample, until } from "./helpers.js";

let project: string;
let dev: DevProcess;
let state: any;
const CONCURRENCY = 2;

async function logEvents(): Promise<{ message: string; logStreamName: string }[]> {
  const text = await readFile(join(state.logsDir, "events.jsonl"), "utf8").catch(() => "");
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "imgfn-e2e-url-"));
  await writeFile(join(project, "imgfn.config.json"), JSON.stringify({ app: "urls", http: { auth: "NONE", cors: { allowOrigins: ["https://app.example.com"] } } }));
  dev = await startDev(project, ["--concurrency", String(CONCURRENCY)]);
  state = dev.state;
}, 180_000);

afterAll(async () => {
  await dev?.stop();
  await rm(project, { recursive: true, force: true });
});

describe("the local Function URL through imgfn dev", () => {
  it("dev records functionUrl in .imgfn/local/dev.json", async () => {
    expect(state.functionUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const file = JSON.parse(await readFile(join(project, ".imgfn", "local", "dev.json"), "utf8"));
    expect(file.functionUrl).toBe(state.functionUrl);
  });

  it("20 parallel requests all answer; the REPORT lines show one cold start per worker, then warm ones", async () => {
    const cat = await readFile(sample("cat.jpg"));
    const answers = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await fetch(state.functionUrl, { method: "POST", headers: { "content-type": "image/jpeg" }, body: cat });
        return { status: res.status, requestId: res.headers.get("x-amzn-requestid")!, doc: ((await res.json()) as any) };
      }),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    for (const a of answers) expect(CAT_CLASSES.has(a.doc.predictions[0].index)).toBe(true);
    const ids = new Set(answers.map((a) => a.requestId));
    expect(ids.size).toBe(20);
    const events = await until("20 REPORT lines", async () => {
      const all = await logEvents();
      return all.filter((e) => ids.has(parseReport(e.message)?.requestId ?? "")).length === 20 ? all : undefined;
    });
    const reports = events.map((e) => ({ stream: e.logStreamName, r: parseReport(e.message) })).filter((x) => x.r && ids.has(x.r.requestId));
    const cold = reports.filter((x) => x.r!.initDuration !== undefined);
    expect(cold.length).toBeGreaterThanOrEqual(1);
    expect(cold.length).toBeLessThanOrEqual(CONCURRENCY);
    // on each worker (log stream) the first REPORT is the cold one, every later one warm
    for (const stream of new Set(reports.map((x) => x.stream))) {
      const mine = reports.filter((x) => x.stream === stream);
      expect(mine[0].r!.initDuration).toBeDefined();
      expect(mine.slice(1).every((x) => x.r!.initDuration === undefined)).toBe(true);
    }
    // the function's own record agrees with the REPORT lines
    expect(answers.filter((a) => a.doc.coldStart).length).toBe(cold.length);
  });

  it("curl --data-binary @samples/cat.jpg returns a cat class", async () => {
    const r = await execa("curl", ["-sS", "--data-binary", `@${sample("cat.jpg")}`, state.functionUrl]);
    const doc = JSON.parse(r.stdout);
    expect(CAT_CLASSES.has(doc.predictions[0].index)).toBe(true);
    expect(doc.input.contentType).toBe("application/x-www-form-urlencoded"); // curl's default, still raw bytes
  });

  it("a 7 MB body gets 413 naming Lambda's 6 MB limit", async () => {
    const r = await execa("curl", ["-sS", "-o", "-", "-w", "\n%{http_code}", "-H", "content-type: image/jpeg", "--data-binary", "@-", state.functionUrl], { input: Buffer.alloc(7 * 1024 * 1024, 7) });
    const lines = r.stdout.trim().split("\n");
    expect(lines.at(-1)).toBe("413");
    const doc = JSON.parse(lines.slice(0, -1).join("\n"));
    expect(doc.error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(doc.error.message).toContain("6 MB");
  });

  it("GET / describes the model; the configured origin gets CORS, others are refused", async () => {
    const info = ((await (await fetch(state.functionUrl)).json()) as any);
    expect(info).toMatchObject({ model: { id: "mobilenetv2-12-int8" }, labels: 1000, input: { width: 224, height: 224 } });
    const allowed = await fetch(state.functionUrl, { headers: { origin: "https://app.example.com" } });
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect((await fetch(state.functionUrl, { headers: { origin: "https://evil.example.com" } })).status).toBe(403);
  });

  it("imgfn classify --local --json prints exactly one JSON document with predict's fields", async () => {
    const r = await imgfn(["--json", "classify", "--local", sample("cat.jpg"), sample("espresso.jpg"), "--top", "2"], project);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout); // the whole of stdout is one document
    expect(doc).toHaveLength(2);
    expect(CAT_CLASSES.has(doc[0].predictions[0].index)).toBe(true);
    expect(doc[1].predictions[0].label).toBe("espresso");
    for (const d of doc) {
      expect(d.predictions).toHaveLength(2);
      expect(d).toMatchObject({ status: 200, image: { format: "jpeg" }, requestId: expect.any(String) });
      expect(typeof d.timings.inference).toBe("number");
    }
  });

  it("imgfn classify --url prints predict's table; bad files are reported and the exit code is 1", async () => {
    const bad = join(project, "notes.jpg");
    await writeFile(bad, "not an image");
    const r = await imgfn(["classify", "--url", state.functionUrl, sample("cat.jpg"), bad, join(project, "missing.jpg")], project);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/cat\.jpg\s+\d+x\d+ jpeg, preprocess [\d.]+ ms, inference [\d.]+ ms/);
    expect(r.stdout).toMatch(/1\.\s+[\d.]+%\s+(tabby|tiger cat|Egyptian cat|Persian cat|Siamese cat)/);
    expect(r.stdout).toContain("notes.jpg  NOT_AN_IMAGE: the file is not an image");
    expect(r.stdout).toContain("missing.jpg  FILE_NOT_FOUND");
    expect(r.stderr).toContain("2 of 3 files could not be classified");
    const json = await imgfn(["--json", "classify", "--url", state.functionUrl, bad], project);
    expect(json.exitCode).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ file: bad, status: 422, error: { code: "NOT_AN_IMAGE", message: expect.any(String) } })]);
  });

  it("classify without a running stack or a URL says what to do", async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), "imgfn-e2e-url-none-"));
    try {
      const local = await imgfn(["classify", "--local", sample("cat.jpg")], elsewhere);
      expect(local.exitCode).toBe(1);
      expect(local.stderr).toContain("no local stack is running");
      const refused = await imgfn(["classify", "--url", "http://127.0.0.1:9/", sample("cat.jpg")], elsewhere);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain("cannot reach http://127.0.0.1:9");
      const usage = await imgfn(["classify", "--url", "ftp://x", sample("cat.jpg")], elsewhere);
      expect(usage.exitCode).toBe(2);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});
