// End to end through the real local stack: `imgfn dev` as a child process (local S3, trigger, worker
// processes running the staged function bundle with the real model), driven by the CLI and the SDK.
// Needs `npm run build` and IMGFN_MODEL_MIRROR (set by CI) or a cached model.
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { execa } from "execa";
import sharp from "sharp";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultApp } from "../../src/config.js";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localS3Client } from "../../src/local/s3.js";
import { waitForResult } from "../../src/pipeline/upload.js";
import { parseHandlerLine, parseReport } from "../../src/ui/logs.js";
import { startDev } from "../helpers/dev.js";
import { imgfnUnderPty } from "../helpers/pty.js";
import { bin, cliEnv, descendants, imgfn, isGone, sample, until } from "./helpers.js";

let project: string;
let dev: ChildProcess;
let devExit: Promise<number | null>;
let state: any;
let s3: S3Client;
let catBytes: Buffer;
/** A latency as formatMs prints it: "502 ms" or "1.25 s". */
const MS = String.raw`(?:\d+ ms|\d+\.\d\d s)`;
/** Every key this file uploads that matches the trigger rules (each must run exactly once). */
const triggering: string[] = [];

async function logEvents(): Promise<{ message: string; timestamp: number }[]> {
  const text = await readFile(join(state.logsDir, "events.jsonl"), "utf8").catch(() => "");
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

async function put(key: string, body: Uint8Array) {
  await s3.send(new PutObjectCommand({ Bucket: state.bucket, Key: key, Body: body, ContentType: "image/jpeg" }));
}

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "imgfn-e2e-dev-"));
  catBytes = await readFile(sample("cat.jpg"));
  const started = await startDev(project, ["--concurrency", "2"]);
  dev = started.child;
  devExit = started.exited;
  state = started.state;
  s3 = localS3Client(state.s3Endpoint);
});

afterAll(async () => {
  s3?.destroy();
  if (dev && dev.exitCode === null) {
    dev.kill("SIGKILL");
    await devExit;
  }
  await rm(project, { recursive: true, force: true });
});

describe("imgfn dev (real stack)", () => {
  it("records its endpoints in .imgfn/local/dev.json", async () => {
    // the app name comes from the project folder's name
    expect(state).toMatchObject({ status: "running", pid: dev.pid, bucket: `imgfn-${defaultApp(project)}-local`, inputPrefix: "uploads/", outputPrefix: "results/" });
    const file = JSON.parse(await readFile(join(project, ".imgfn", "local", "dev.json"), "utf8"));
    expect(file).toMatchObject({ pid: dev.pid, s3Endpoint: state.s3Endpoint, invokeEndpoint: state.invokeEndpoint });
    // the function it runs is the staged bundle, as in the image
    expect(existsSync(join(project, ".imgfn", "local", "function", "index.mjs"))).toBe(true);
    expect(existsSync(join(project, ".imgfn", "local", "function", "model", "model.json"))).toBe(true);
  });

  it("refuses a second imgfn dev in the same project", async () => {
    const second = await imgfn(["dev"], project);
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toContain(`imgfn dev is already running for this project (pid ${dev.pid}`);
  });

  it("classifies the cat and the espresso uploaded with `imgfn upload --local`", async () => {
    const res = await imgfn(["upload", "--local", "--json", sample("cat.jpg"), sample("espresso.jpg")], project);
    expect(res.stderr).not.toContain("error");
    expect(res.exitCode).toBe(0);
    const out = JSON.parse(res.stdout);
    triggering.push("uploads/cat.jpg", "uploads/espresso.jpg");
    expect(out.map((o: any) => [o.key, o.status])).toEqual([
      ["uploads/cat.jpg", "classified"],
      ["uploads/espresso.jpg", "classified"],
    ]);
    expect(out[0].predictions[0].label).toMatch(/cat/i);
    expect(out[1].predictions[0].label).toMatch(/espresso/i);
    expect(out[0].latencyMs).toBeGreaterThan(0);
  });

  it("round-trips a key with spaces, '+' and unicode", async () => {
    const key = "uploads/my photos/café + crème ü 猫.jpg";
    const started = Date.now();
    await put(key, catBytes);
    triggering.push(key);
    const result = await waitForResult(s3, state.bucket, "results/my photos/café + crème ü 猫.jpg.json", started, { timeout: 60_000 });
    expect(result.input.key).toBe(key);
    expect(result.predictions![0].label).toMatch(/cat/i);
  });

  it("processes a burst of 100 uploads exactly once each", async () => {
    const keys = Array.from({ length: 100 }, (_, i) => `uploads/burst/img-${String(i).padStart(3, "0")}.jpg`);
    const started = Date.now();
    for (let i = 0; i < keys.length; i += 10) await Promise.all(keys.slice(i, i + 10).map((k) => put(k, catBytes)));
    triggering.push(...keys);
    await Promise.all(keys.map((k) => waitForResult(s3, state.bucket, k.replace("uploads/", "results/") + ".json", started, { timeout: 120_000 })));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: state.bucket, Prefix: "results/burst/" }));
    expect(listed.KeyCount).toBe(100);
    // exactly once: one "classified" line per key, one REPORT per request
    const events = await until("the REPORT line of every burst request", async () => {
      const ev = await logEvents();
      const ids = new Set(ev.map((e) => parseHandlerLine(e.message)).filter((j) => j?.msg === "classified" && j.key.startsWith("uploads/burst/")).map((j) => j!.requestId));
      const reported = ev.map((e) => parseReport(e.message)).filter((r) => r && ids.has(r.requestId));
      return ids.size === 100 && reported.length >= 100 ? ev : undefined;
    });
    const classified = events.map((e) => parseHandlerLine(e.message)).filter((j) => j?.msg === "classified" && j.key.startsWith("uploads/burst/"));
    expect(classified.map((j) => j!.key).sort()).toEqual(keys);
    const burstIds = new Set(classified.map((j) => j!.requestId));
    expect(events.map((e) => parseReport(e.message)).filter((r) => r && burstIds.has(r.requestId))).toHaveLength(100);
    // two workers at most: cold starts = Init Duration lines <= concurrency over the whole run
    expect(events.filter((e) => parseReport(e.message)?.initDuration !== undefined).length).toBeLessThanOrEqual(2);
  });

  it("triggers only on the configured prefix and suffixes, and results never retrigger the function", async () => {
    // S3 filter rules are case-sensitive: .Jpg is not .jpg; other prefixes do not match
    await put("uploads/CAT.Jpg", catBytes);
    await put("uploads/notes.txt", Buffer.from("not an image"));
    await put("elsewhere/cat.jpg", catBytes);
    await put("results/manual.jpg", catBytes);
    // a marker upload: once it is done, everything uploaded before it has been delivered
    const started = Date.now();
    await put("uploads/marker.jpg", catBytes);
    triggering.push("uploads/marker.jpg");
    await waitForResult(s3, state.bucket, "results/marker.jpg.json", started, { timeout: 60_000 });
    const events = await until("every invocation's REPORT", async () => {
      const ev = await logEvents();
      return ev.filter((e) => parseReport(e.message)).length >= triggering.length ? ev : undefined;
    });
    await new Promise((r) => setTimeout(r, 500)); // room for a stray (wrong) invocation to show up
    const final = await logEvents();
    const starts = final.filter((e) => e.message.startsWith("START RequestId:"));
    expect(starts).toHaveLength(triggering.length);
    expect(final.filter((e) => parseReport(e.message))).toHaveLength(triggering.length);
    const keysSeen = final.map((e) => parseHandlerLine(e.message)).filter((j) => j?.key).map((j) => j!.key);
    expect(keysSeen.some((k) => k.startsWith("results/"))).toBe(false);
    expect(final.some((e) => /record skipped/.test(e.message))).toBe(false);
    expect(events.length).toBeGreaterThan(0);
    const results = await s3.send(new GetObjectCommand({ Bucket: state.bucket, Key: "results/marker.jpg.json" }));
    expect(JSON.parse(await results.Body!.transformToString()).input.key).toBe("uploads/marker.jpg");
  });

  it("answers the RIE invoke URL and `imgfn invoke --local --key`", async () => {
    const event = JSON.parse(await readFile(new URL("./s3-event.json", import.meta.url), "utf8"));
    event.Records[0].s3.bucket.name = state.bucket;
    const res = await fetch(`${state.invokeEndpoint}/2015-03-31/functions/function/invocations`, { method: "POST", body: JSON.stringify(event) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ results: [{ key: "uploads/cat.jpg", status: "classified", outputKey: "results/cat.jpg.json" }] });

    const bad = await fetch(`${state.invokeEndpoint}/2015-03-31/functions/function/invocations`, { method: "POST", body: "{not json" });
    expect(bad.status).toBe(400);

    const cli = await imgfn(["invoke", "--local", "--json", "--key", "uploads/my photos/café + crème ü 猫.jpg"], project);
    expect(cli.exitCode).toBe(0);
    expect(JSON.parse(cli.stdout).result.results[0]).toMatchObject({ key: "uploads/my photos/café + crème ü 猫.jpg", status: "classified" });
    triggering.push("(invoke url)", "(invoke cli)");
  });

  it("shows the logs with `imgfn logs --local`", async () => {
    const human = await imgfn(["logs", "--local", "--since", "1h", "--filter", "espresso"], project);
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toMatch(/uploads\/espresso\.jpg → espresso \(\d+\.\d%\)/);
    const json = await imgfn(["logs", "--local", "--json", "--since", "1h", "--filter", "REPORT"], project);
    const lines: any[] = JSON.parse(json.stdout); // one document: an array of events
    expect(lines.length).toBe(triggering.length);
    expect(lines.every((l) => l.message.startsWith("REPORT RequestId:") && typeof l.timestamp === "number" && l.logStreamName)).toBe(true);
  });

  it("upload: every decoded format triggers, top-k rows, a summary line, and ✔ only when all were classified", async () => {
    const photos = join(project, "formats");
    await mkdir(photos, { recursive: true });
    await writeFile(join(photos, "cat.jpg"), catBytes);
    await writeFile(join(photos, "cat.gif"), await sharp(catBytes).gif().toBuffer());
    await writeFile(join(photos, "cat.TIFF"), await sharp(catBytes).tiff().toBuffer());
    await writeFile(join(photos, "espresso.webp"), await sharp(await readFile(sample("espresso.jpg"))).webp().toBuffer());
    const ok = await imgfn(["upload", "--local", "formats", "--prefix", "uploads/formats/"], project);
    triggering.push("formats/cat.jpg", "formats/cat.gif", "formats/cat.TIFF", "formats/espresso.webp");
    expect(ok.stderr).not.toContain("warning");
    expect(ok.exitCode).toBe(0);
    expect(ok.stderr).toMatch(/✔ Uploading 4 files to s3:\/\/\S+\/uploads\/formats\/ \(local stack\): all processed/);
    // top-3 per image: the top class on the key's row, the next two below it
    const rows = ok.stdout.split("\n");
    const gif = rows.findIndex((l) => l.startsWith("uploads/formats/cat.gif"));
    expect(gif).toBeGreaterThan(0);
    expect(rows[gif]).toMatch(new RegExp(`(Egyptian cat|tabby|tiger cat)\\s+\\d+\\.\\d%\\s+${MS}$`));
    expect(rows[gif + 1]).toMatch(/^\s+\S.*\d+\.\d%$/);
    expect(rows[gif + 2]).toMatch(/^\s+\S.*\d+\.\d%$/);
    expect(rows.at(-1)).toMatch(new RegExp(`^4 done, 0 errors; end-to-end p50 ${MS}, p95 ${MS}$`));

    // 4 of 5 bad: the step ends with ⚠, the summary counts them, exit code 1
    const mixed = join(project, "mixed");
    await mkdir(mixed, { recursive: true });
    await writeFile(join(mixed, "good.jpg"), catBytes);
    for (let i = 1; i <= 4; i++) await writeFile(join(mixed, `bad${i}.jpg`), `not an image ${i}`);
    const bad = await imgfn(["upload", "--local", "mixed", "--prefix", "uploads/mixed/"], project);
    triggering.push("mixed/good", "mixed/bad1", "mixed/bad2", "mixed/bad3", "mixed/bad4");
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/⚠ Uploading 5 files .*: 4 of 5 failed/);
    expect(bad.stderr).not.toContain("✔ Uploading");
    expect(bad.stderr).toMatch(/… \d\/5 processed/); // plain progress lines without a terminal
    expect(bad.stdout).toMatch(new RegExp(`^1 done, 4 errors; end-to-end p50 ${MS}, p95 ${MS}$`, "m"));
  });

  it("upload on an 80-column terminal shows n/N with a bar, and its table fits", async () => {
    const many = join(project, "many");
    await mkdir(many, { recursive: true });
    for (let i = 0; i < 20; i++) await writeFile(join(many, `cat-${String(i).padStart(2, "0")}-with-a-rather-long-file-name-for-the-key-column.jpg`), catBytes);
    const r = await imgfnUnderPty(["upload", "--local", "many", "--prefix", "uploads/many/", "--concurrency", "2"], { columns: 80, cwd: project, timeoutSeconds: 120 });
    for (let i = 0; i < 20; i++) triggering.push(`many/${i}`);
    expect(r.exitCode).toBe(0);
    expect(r.output).toMatch(/▕[█░]{20}▏ \d+\/20 processed/);
    // eslint-disable-next-line no-control-regex
    const lines = r.output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").split(/\r?\n/);
    const rows = lines.filter((l) => l.startsWith("uploads/many/"));
    expect(rows).toHaveLength(20);
    for (const l of [...rows, ...lines.filter((l) => /^\s+\S.*%$/.test(l))]) expect([...l.replace(/\r/g, "")].length).toBeLessThanOrEqual(80);
    expect(rows[0]).toContain("…"); // the long keys are cut, not wrapped
  }, 150_000);

  it("upload warns before uploading a file the trigger will not fire for, naming the suffixes setting", async () => {
    await writeFile(join(project, "scan.bmp"), "BM");
    const r = await imgfn(["upload", "--local", "scan.bmp"], project);
    expect(r.exitCode).toBe(1);
    const warning = r.stderr.indexOf(`warning: scan.bmp: the trigger will not fire`);
    expect(warning).toBeGreaterThanOrEqual(0);
    expect(r.stderr).toContain(`add the suffix to "suffixes" in imgfn.config.json`);
    expect(warning).toBeLessThan(r.stderr.indexOf("Uploading 1 file"));
  });

  it("invoke --local prints the predictions and the REPORT line", async () => {
    const r = await imgfn(["invoke", "--local", "--key", "uploads/cat.jpg"], project);
    triggering.push("(invoke cli, human)");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^uploads\/cat\.jpg {2}classified → results\/cat\.jpg\.json$/m);
    expect(r.stdout).toMatch(/^\s+1\.\s+\d+\.\d%\s+(Egyptian cat|tabby, tabby cat|tiger cat)$/m);
    expect(r.stdout).toMatch(new RegExp(`^REPORT [0-9a-f-]{36} {2}duration (?:\\d+\\.\\d ms|${MS}) \\(billed \\d+ ms\\), memory \\d+/1024 MB`, "m"));
  });

  it("`imgfn event s3` pipes into curl -d @- and into invoke --event, with S3's key encoding", async () => {
    const key = "uploads/my photos/café + crème ü 猫.jpg";
    const event = await imgfn(["event", "s3", "--key", key], project);
    expect(event.exitCode).toBe(0);
    const doc = JSON.parse(event.stdout);
    expect(doc.Records[0].s3.object.key).toBe("uploads/my+photos/caf%C3%A9+%2B+cr%C3%A8me+%C3%BC+%E7%8C%AB.jpg");
    expect(doc.Records[0].s3.bucket.name).toBe(state.bucket); // the running dev's bucket
    const curl = await execa("bash", ["-c", `node ${bin} event s3 --key '${key}' | curl -s -XPOST ${state.invokeEndpoint}/2015-03-31/functions/function/invocations -d @-`], { cwd: project, env: cliEnv(), extendEnv: false });
    expect(JSON.parse(curl.stdout)).toEqual({ results: [{ key, status: "classified", outputKey: `results/${key.slice("uploads/".length)}.json` }] });
    await writeFile(join(project, "event.json"), event.stdout);
    const invoked = await imgfn(["invoke", "--local", "--event", "event.json", "--json"], project);
    triggering.push("(event | curl)", "(invoke --event)");
    expect(invoked.exitCode).toBe(0);
    const out = JSON.parse(invoked.stdout);
    expect(out.records[0]).toMatchObject({ key, status: "classified" });
    expect(out.records[0].result.predictions.length).toBeGreaterThan(0);
    expect(out.report).toMatchObject({ requestId: out.requestId, memorySize: 1024 });
  });

  it("stops everything on SIGINT, leaving no process behind", async () => {
    const file = JSON.parse(await readFile(join(project, ".imgfn", "local", "dev.json"), "utf8"));
    const pids = new Set<number>([dev.pid!, ...file.workerPids, ...descendants(dev.pid!)]);
    expect(file.workerPids.length).toBeGreaterThan(0);
    expect([...pids].every((p) => !isGone(p))).toBe(true);
    dev.kill("SIGINT");
    expect(await devExit).toBe(0);
    await until("every process to go", () => [...pids].every(isGone) || undefined, 10_000);
    expect(existsSync(join(project, ".imgfn", "local", "dev.json"))).toBe(false);
    // and the endpoints are really closed
    await expect(fetch(state.s3Endpoint)).rejects.toThrow();
    // logs stay readable after the stack is gone
    const after = await imgfn(["logs", "--local", "--since", "1h", "--filter", "REPORT"], project);
    expect(after.exitCode).toBe(0);
    expect(after.stdout).toContain("REPORT");
    // and an upload now says what to do
    const upload = await imgfn(["upload", "--local", sample("cat.jpg")], project);
    expect(upload.exitCode).toBe(1);
    expect(upload.stderr).toContain("no local stack is running");
  });
});
