/**
 * `imgfn logs --local` over a log group written as the emulator writes it: the request id on
 * every line, --group, Invoke Error rendered with its stack, --json as one array, --tail as
 * --follow with a "waiting" notice, and a closed pipe ending quietly with exit code 0.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogWriter } from "../../src/local/logs.js";
import { bin, cliEnv } from "../e2e/helpers.js";
import { runCli } from "../helpers/cli.js";

let project: string;
const A = "6f1e2d3c-aaaa-4bbb-8ccc-000000000001";
const B = "9a8b7c6d-aaaa-4bbb-8ccc-000000000002";

function line(t: number, id: string, level: string, body: string) {
  return `${new Date(t).toISOString()}\t${id}\t${level}\t${body}\n`;
}

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), "imgfn-logs-cli-"));
  writeFileSync(join(project, "imgfn.config.json"), JSON.stringify({ app: "logscli" }));
  const writer = new LogWriter(join(project, ".imgfn", "local", "logs", "imgfn-logscli"));
  const t = Date.now() - 60_000;
  const ev = (dt: number, message: string) => writer.write({ timestamp: t + dt, message, logStreamName: "s" });
  // two requests interleaved, as two workers write them
  ev(0, `START RequestId: ${A} Version: $LATEST\n`);
  ev(1, `START RequestId: ${B} Version: $LATEST\n`);
  ev(2, line(t + 2, A, "INFO", JSON.stringify({ level: "info", msg: "classified", requestId: A, key: "uploads/cat.jpg", top1: "Egyptian cat", score: 0.666, timings: { total: 100, inference: 20 } })));
  ev(3, line(t + 3, B, "ERROR", `Invoke Error \t${JSON.stringify({ errorType: "NoSuchBucket", errorMessage: "The specified bucket does not exist", stack: ["NoSuchBucket: The specified bucket does not exist", "    at processRecord (/var/task/handler/index.ts:150:11)", "    at async handler (/var/task/handler/index.ts:85:20)"] })}`));
  ev(4, `END RequestId: ${A}\n`);
  ev(5, `REPORT RequestId: ${A}\tDuration: 101.50 ms\tBilled Duration: 102 ms\tMemory Size: 1024 MB\tMax Memory Used: 140 MB\t\n`);
  ev(6, `END RequestId: ${B}\n`);
  ev(7, `REPORT RequestId: ${B}\tDuration: 20.00 ms\tBilled Duration: 20 ms\tMemory Size: 1024 MB\tMax Memory Used: 130 MB\t\n`);
  // enough history that a reader closing after 3 lines makes the next writes fail with EPIPE
  for (let i = 0; i < 3000; i++) ev(10 + i, line(t + 10 + i, A, "INFO", `filler line ${i} ${"x".repeat(60)}`));
  writer.close();
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

describe("imgfn logs --local", () => {
  it("shows the request id on every line, and renders Invoke Error with its stack", async () => {
    const r = await runCli(["logs", "--local", "--since", "1h", "--filter", "RequestId"], { cwd: project });
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.length).toBe(6);
    for (const l of lines) expect(l).toMatch(/^\d\d:\d\d:\d\d\.\d{3} (6f1e2d3c|9a8b7c6d) /);
    const all = await runCli(["logs", "--local", "--since", "1h", "--filter", "Error"], { cwd: project });
    expect(all.stdout).toContain("9a8b7c6d ERROR Invoke Error: NoSuchBucket: The specified bucket does not exist");
    expect(all.stdout).toMatch(/\n\s+at processRecord \(handler\/index\.ts:150:11\)/);
    expect(all.stdout).not.toContain('{"errorType"'); // not the raw JSON
  });

  it("--group prints each request's lines together under its id", async () => {
    const r = await runCli(["logs", "--local", "--since", "1h", "--filter", "R", "--group"], { cwd: project });
    const out = r.stdout;
    const a = out.indexOf(`── request ${A}`);
    const b = out.indexOf(`── request ${B}`);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(b).toBeGreaterThan(a);
    const groupA = out.slice(a, b);
    expect(groupA).toContain("START");
    expect(groupA).toContain("REPORT 101.5 ms");
    expect(groupA).not.toContain("9a8b7c6d");
  });

  it("--json is one array of events", async () => {
    const r = await runCli(["logs", "--local", "--since", "1h", "--filter", "RequestId", "--json"], { cwd: project });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Array.isArray(doc)).toBe(true);
    expect(doc).toHaveLength(6);
    expect(doc[0]).toMatchObject({ message: expect.stringContaining(`START RequestId: ${A}`) });
  });

  it("--tail follows like --follow and says that it is waiting", async () => {
    const controller = new AbortController();
    const run = runCli(["logs", "--local", "--since", "1h", "--filter", "REPORT", "-t"], { cwd: project, signal: controller.signal });
    await new Promise((r) => setTimeout(r, 2000));
    controller.abort();
    const r = await run;
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(2);
    expect(r.stderr).toMatch(/waiting for new log events from local stack .*\(Ctrl-C to stop\)/);
  });

  it("a closed pipe (| head -3) ends quietly with exit code 0", async () => {
    for (const args of [["--json"], [], ["--group"]]) {
      const r = await execa("bash", ["-c", `node ${bin} logs --local --since 1h ${args.join(" ")} | head -3 >/dev/null; echo "exit=\${PIPESTATUS[0]}"`], { cwd: project, env: cliEnv(), extendEnv: false });
      expect(r.stdout.trim()).toBe("exit=0");
      expect(r.stderr).not.toMatch(/EPIPE|Unhandled/);
    }
  });
});
