// The Lambda emulator's lifecycle, with small fixture functions in real worker processes
// (dist/local/worker.js: run "npm run build" first).
import { build } from "esbuild";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { LambdaEmulator, workerScriptPath, type EmulatorOptions, type InvocationRecord } from "../../src/local/emulator.js";
import { LogWriter } from "../../src/local/logs.js";
import { parseReport } from "../../src/ui/logs.js";
import type { LogEvent } from "../../src/target.js";

const fixtures = fileURLToPath(new URL("../fixtures/functions/", import.meta.url));
let dir: string;
let emulator: LambdaEmulator | undefined;
let events: LogEvent[] = [];

beforeAll(() => {
  if (!existsSync(workerScriptPath())) throw new Error("run npm run build first (dist/local/worker.js is missing)");
});

async function start(overrides: Partial<EmulatorOptions> = {}) {
  dir = await mkdtemp(join(tmpdir(), "imgfn-emu-"));
  const writer = new LogWriter(join(dir, "logs"));
  events = [];
  writer.subscribe((e) => events.push(e));
  const invocations: InvocationRecord[] = [];
  emulator = new LambdaEmulator({
    taskRoot: join(fixtures, "lifecycle"),
    functionName: "imgfn-test",
    memory: 256,
    timeout: 3,
    concurrency: 2,
    retries: 2,
    retryDelays: [50, 100],
    region: "eu-west-1",
    environment: { IMGFN_TOP_K: "3" },
    log: (e) => writer.write(e),
    ...overrides,
  });
  emulator.on("invocation", (r: InvocationRecord) => invocations.push(r));
  return { emulator, invocations };
}

const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};
const messages = () => events.map((e) => e.message);
const reports = () => messages().map(parseReport).filter((r) => r !== undefined);

afterEach(async () => {
  const pids = emulator?.pids() ?? [];
  await emulator?.close();
  for (const pid of pids) expect(gone(pid)).toBe(true);
  emulator = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe("Lambda emulator", () => {
  it("inits once per worker, reuses it warm, and gives the function Lambda's environment", async () => {
    const { emulator, invocations } = await start();
    const first = await emulator.invoke({ action: "env" });
    const second = await emulator.invoke({ action: "log" });
    expect(first.ok && second.ok).toBe(true);
    const env = (first as any).result.env;
    expect(env).toMatchObject({
      AWS_LAMBDA_FUNCTION_NAME: "imgfn-test",
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "256",
      AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
      AWS_REGION: "eu-west-1",
      AWS_DEFAULT_REGION: "eu-west-1",
      LAMBDA_TASK_ROOT: join(fixtures, "lifecycle"),
      _HANDLER: "index.handler",
      AWS_LAMBDA_LOG_GROUP_NAME: "/aws/lambda/imgfn-test",
      TZ: ":UTC",
      IMGFN_TOP_K: "3",
    });
    expect(env.AWS_LAMBDA_LOG_STREAM_NAME).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    expect((first as any).result.remaining).toBeGreaterThan(0);
    expect(invocations.map((i) => i.pid)).toEqual([invocations[0].pid, invocations[0].pid]);
    // cold then warm: Init Duration only on the first REPORT
    const r = reports();
    expect(r).toHaveLength(2);
    expect(r[0]!.initDuration).toBeGreaterThan(0);
    expect(r[1]!.initDuration).toBeUndefined();
    expect(r[0]!.memorySize).toBe(256);
    expect(r[0]!.maxMemoryUsed).toBeGreaterThan(0);
    // console lines in the Node runtime's format, between START and END
    const id = second.requestId;
    const lines = messages();
    const startAt = lines.indexOf(`START RequestId: ${id} Version: $LATEST\n`);
    const endAt = lines.indexOf(`END RequestId: ${id}\n`);
    const hello = lines.findIndex((m) => m.endsWith(`\t${id}\tINFO\thello from the function\n`));
    expect(startAt).toBeGreaterThanOrEqual(0);
    expect(hello).toBeGreaterThan(startAt);
    expect(endAt).toBeGreaterThan(hello);
    expect(lines[hello]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\t/);
    expect(lines.some((m) => m.includes(`\t${id}\tERROR\t{"level":"error","msg":"structured"}`))).toBe(true);
    // and the same events are on disk, one JSON line each
    const disk = (await readFile(join(dir, "logs", "events.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(disk.map((e) => e.message)).toEqual(lines);
    expect(disk.every((e) => typeof e.timestamp === "number" && e.logStreamName === env.AWS_LAMBDA_LOG_STREAM_NAME)).toBe(true);
  });

  it("kills a worker that runs past the timeout; the next call gets a fresh, cold worker", async () => {
    const { emulator, invocations } = await start({ timeout: 1 });
    const slow = await emulator.invoke({ action: "sleep", ms: 5000 });
    expect(slow.ok).toBe(false);
    expect((slow as any).error).toMatchObject({ errorType: "Sandbox.Timedout", errorMessage: `RequestId: ${slow.requestId} Error: Task timed out after 1.00 seconds` });
    expect(messages().some((m) => m.endsWith(` ${slow.requestId} Task timed out after 1.00 seconds\n\n`))).toBe(true);
    const killedPid = invocations[0].pid;
    const next = await emulator.invoke({ action: "sleep", ms: 0 });
    expect(next.ok).toBe(true);
    expect((next as any).result.pid).not.toBe(killedPid);
    expect(gone(killedPid)).toBe(true);
    const r = reports();
    expect(r).toHaveLength(2);
    expect(r[1]!.initDuration).toBeGreaterThan(0); // cold again
    expect(messages().find((m) => m.startsWith(`REPORT RequestId: ${slow.requestId}`))).toContain("Status: timeout");
  });

  it("kills a worker whose memory goes over the configured size", async () => {
    const { emulator, invocations } = await start({ memory: 128, timeout: 20 });
    const out = await emulator.invoke({ action: "eat-memory" });
    expect(out.ok).toBe(false);
    expect((out as any).error).toMatchObject({ errorType: "Runtime.OutOfMemory", errorMessage: `RequestId: ${out.requestId} Error: Runtime exited with error: signal: killed` });
    expect(gone(invocations[0].pid)).toBe(true);
    const report = reports()[0]!;
    expect(report.maxMemoryUsed).toBe(128); // as Lambda reports it: at most the memory size
    // the emulator carries on with a new worker
    expect((await emulator.invoke({ action: "sleep", ms: 0 })).ok).toBe(true);
  });

  it("retries a failing asynchronous event twice, then reports it as failed", async () => {
    const { emulator } = await start();
    const journal = join(dir, "journal.txt");
    const failed: any[] = [];
    emulator.on("failed", (f) => failed.push(f));
    const outcome = await emulator.invokeAsync({ action: "fail", tag: "always", journal });
    expect(outcome.ok).toBe(false);
    expect((outcome as any).error).toMatchObject({ errorType: "Error", errorMessage: "boom always" });
    const entries = (await readFile(journal, "utf8")).trim().split("\n").filter((l) => l.startsWith("enter"));
    expect(entries).toHaveLength(3); // the first attempt and two retries
    // Lambda keeps the request id across retries of one event
    expect(new Set(entries.map((l) => l.split(" ")[1]))).toEqual(new Set([outcome.requestId]));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ requestId: outcome.requestId, attempts: 3 });
    expect(messages().filter((m) => m.includes(`\tERROR\tInvoke Error \t{"errorType":"Error","errorMessage":"boom always"`))).toHaveLength(3);
    // a synchronous invoke is not retried
    await emulator.invoke({ action: "fail", journal });
    expect((await readFile(journal, "utf8")).trim().split("\n").filter((l) => l.startsWith("enter"))).toHaveLength(4);
  });

  it("never runs more than `concurrency` invocations at once, and runs each queued event exactly once", async () => {
    const { emulator } = await start({ concurrency: 2 });
    const journal = join(dir, "journal.txt");
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => emulator.invokeAsync({ action: "sleep", ms: 100, journal })));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const lines = (await readFile(journal, "utf8")).trim().split("\n").map((l) => l.split(" "));
    let active = 0;
    let peak = 0;
    for (const [what] of lines) {
      active += what === "enter" ? 1 : -1;
      peak = Math.max(peak, active);
    }
    expect(peak).toBe(2);
    const entered = lines.filter(([w]) => w === "enter").map(([, id]) => id);
    expect(entered.sort()).toEqual(outcomes.map((o) => o.requestId).sort());
    expect(new Set(lines.map(([, , pid]) => pid)).size).toBe(2);
    expect(reports()).toHaveLength(8);
  });

  it("runs workers with source maps on: a bundled function's error stack names its TypeScript lines", async () => {
    const src = await mkdtemp(join(tmpdir(), "imgfn-emu-map-"));
    try {
      // a minified bundle with its map beside it, as scripts/build.mjs writes dist/function
      await writeFile(join(src, "thrower.ts"), ["export async function handler(): Promise<never> {", "  const reason: string = 'deliberate';", "  throw new Error(`boom: ${reason}`);", "}", ""].join("\n"));
      await build({ entryPoints: [join(src, "thrower.ts")], outfile: join(src, "task", "index.mjs"), bundle: true, format: "esm", platform: "node", minify: true, sourcemap: true, sourcesContent: false, logLevel: "silent" });
      await writeFile(join(src, "task", "package.json"), JSON.stringify({ type: "module" }));
      const { emulator } = await start({ taskRoot: join(src, "task") });
      const out = await emulator.invoke({});
      expect(out.ok).toBe(false);
      expect((out as any).error.trace.join("\n")).toMatch(/thrower\.ts:3:\d+/);
      const invokeError = messages().find((m) => m.includes("Invoke Error"))!;
      expect(invokeError).toMatch(/thrower\.ts:3:\d+/);
    } finally {
      await rm(src, { recursive: true, force: true });
    }
  });

  it("reports an init failure on every invocation", async () => {
    const { emulator } = await start({ taskRoot: join(fixtures, "broken-init") });
    const out = await emulator.invoke({});
    expect(out.ok).toBe(false);
    expect((out as any).error.errorMessage).toContain("cannot load the model");
    expect(messages().some((m) => m.includes("\tERROR\tInit Error"))).toBe(true);
    expect((await emulator.invoke({})).ok).toBe(false);
  });

  it("keeps an invocation running when Ctrl-C's SIGINT reaches the worker (the emulator ends workers, not the terminal)", async () => {
    const { emulator } = await start();
    const journal = join(dir, "journal-sigint.txt");
    const pending = emulator.invoke({ action: "sleep", ms: 1500, journal });
    await waitFor(async () => (await readFile(journal, "utf8").catch(() => "")).includes("enter"));
    const [pid] = emulator.pids();
    process.kill(pid, "SIGINT");
    const out = await pending;
    expect(out.ok, JSON.stringify(out)).toBe(true);
    expect((out as any).result.pid).toBe(pid);
  });
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("condition never met");
}
