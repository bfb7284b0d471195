// End to end through the real local stack: `imgfn dev` as a child process (local S3, trigger, worker
// processes running the staged function bundle with the real model), driven by the CLI and the SDK.
// Needs `npm run build` and IMGFN_MODEL_MIRROR (set by CI) or a cached model.
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localS3Client } from "../../src/local/s3.js";
import { waitForResult } from "../../src/pipeline/upload.js";
import { parseHandlerLine, parseReport } from "../../src/ui/logs.js";
import { bin, cliEnv, descendants, imgfn, isGone, sample, until } from "./helpers.js";

let project: string;
let dev: ChildProcess;
let devExit: Promise<number | null>;
let state: any;
let s3: S3Client;
let catBytes: Buffer;
const stdoutLines: string[] = [];
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
  dev = spawn("node", [bin, "--json", "dev", "--concurrency", "2"], { cwd: project, env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] });
  devExit = new Promise((resolve) => dev.once("exit", (code) => resolve(code)));
  let stderr = "";
  dev.stderr!.on("data", (d) => (stderr += d));
  let buf = "";
  dev.stdout!.on("data", (d) => {
    buf += d;
    const lines = buf.split("\n");
    buf = lines.pop()!;
    stdoutLines.push(...lines);
  });
  state = await until("imgfn dev to report its endpoints", () => {
    if (dev.exitCode !== null) throw new Error(`imgfn dev exited early (${dev.exitCode}): ${stderr}`);
    return stdoutLines.length > 0 ? JSON.parse(stdoutLines[0]) : undefined;
  });
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
    expect(state).toMatchObject({ status: "running", pid: dev.pid, bucket: "imgfn-imgfn-local", inputPrefix: "uploads/", outputPrefix: "results/" });
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
    const lines = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.length).toBe(triggering.length);
    expect(lines.every((l) => l.message.startsWith("REPORT RequestId:") && typeof l.timestamp === "number" && l.logStreamName)).toBe(true);
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
