// Starting `imgfn dev` as a user would: over a stale dev.json whose pid now belongs to another
// program, and the copy-paste upload command it prints working from the user's own folder.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { localS3Client } from "../../src/local/s3.js";
import { bin, cliEnv, descendants, isGone, until } from "./helpers.js";

const started: { dev: ChildProcess; exit: Promise<number | null> }[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const { dev, exit } of started.splice(0)) {
    if (dev.exitCode === null) dev.kill("SIGKILL");
    await exit;
  }
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function startDev(cwd: string, args: string[]) {
  const dev = spawn("node", [bin, ...args, "dev"], { cwd, env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] });
  const exit = new Promise<number | null>((r) => dev.once("exit", (code) => r(code)));
  started.push({ dev, exit });
  const out = { stdout: "", stderr: "" };
  dev.stdout!.on("data", (d) => (out.stdout += d));
  dev.stderr!.on("data", (d) => (out.stderr += d));
  return { dev, exit, out };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe("starting imgfn dev", () => {
  it("starts over a stale dev.json whose pid is alive but serves nothing, and cleans up on SIGINT", async () => {
    const project = await mkdtemp(join(tmpdir(), "imgfn-e2e-stale-"));
    dirs.push(project);
    await mkdir(join(project, ".imgfn", "local"), { recursive: true });
    const port = await closedPort();
    // process.pid: alive (this test runner), as a reused pid would be
    const stale = { pid: process.pid, startedAt: new Date(0).toISOString(), s3Endpoint: `http://127.0.0.1:${port}`, invokeEndpoint: `http://127.0.0.1:${port}`, bucket: "b", region: "us-east-1", functionName: "f", inputPrefix: "uploads/", outputPrefix: "results/", suffixes: [".jpg"], logsDir: "/nonexistent", workerPids: [] };
    await writeFile(join(project, ".imgfn", "local", "dev.json"), JSON.stringify(stale));
    const { dev, exit, out } = startDev(project, ["--json"]);
    const state = await until("imgfn dev to start", () => {
      if (dev.exitCode !== null) throw new Error(`imgfn dev exited (${dev.exitCode}): ${out.stderr}`);
      const line = out.stdout.split("\n")[0];
      return out.stdout.includes("\n") ? JSON.parse(line) : undefined;
    });
    expect(state).toMatchObject({ status: "running", pid: dev.pid });
    const children = descendants(dev.pid!);
    dev.kill("SIGINT");
    expect(await exit).toBe(0);
    expect(children.every(isGone)).toBe(true);
    expect(existsSync(join(project, ".imgfn", "local", "dev.json"))).toBe(false);
  });

  it("prints next steps that run as printed from the user's folder: upload, aws s3 cp, invoke, event | curl", async () => {
    const project = await mkdtemp(join(tmpdir(), "imgfn-e2e-hint-"));
    dirs.push(project);
    const { dev, exit, out } = startDev(project, []);
    const hints = await until("the copy-paste commands", () => {
      if (dev.exitCode !== null) throw new Error(`imgfn dev exited (${dev.exitCode}): ${out.stderr}`);
      const block = /try:([\s\S]*?)\n\n/.exec(out.stdout)?.[1];
      return block?.split("\n").map((l) => l.trim()).filter(Boolean);
    });
    expect(hints).toHaveLength(4);
    // started as `node <path>/bin/imgfn.js` outside any project that has imgfn: that is what it prints
    expect(hints[0]).toMatch(/^node \S*bin\/imgfn\.js upload --local \S+$/);
    const samplePath = /s3 cp (\S+) s3:/.exec(hints[1])![1];
    expect(existsSync(resolve(project, samplePath))).toBe(true);
    const run = (cmd: string) => execa("bash", ["-c", cmd], { cwd: project, env: cliEnv(), extendEnv: false, reject: false, timeout: 60_000 });
    const upload = await run(hints[0]);
    expect(upload.exitCode).toBe(0);
    expect(upload.stdout).toMatch(/uploads\/cat\.jpg\s+(Egyptian cat|tabby, tabby cat|tiger cat)/);
    const cp = await run(hints[1]);
    expect(cp.stderr).toBe("");
    expect(cp.exitCode).toBe(0);
    const invoke = await run(hints[2]);
    expect(invoke.exitCode).toBe(0);
    expect(invoke.stdout).toMatch(/^REPORT /m);
    const curl = await run(hints[3]);
    expect(JSON.parse(curl.stdout)).toEqual({ results: [{ key: "uploads/cat.jpg", status: "classified", outputKey: "results/cat.jpg.json" }] });
    dev.kill("SIGINT");
    expect(await exit).toBe(0);
  });
  it("survives failing background invocations with Lambda's default retry delays (no --retry-delays)", async () => {
    const project = await mkdtemp(join(tmpdir(), "imgfn-e2e-retry-"));
    dirs.push(project);
    // 128 MB and 1 s: an image of 36 megapixels cannot be classified within them
    await writeFile(join(project, "imgfn.config.json"), JSON.stringify({ memory: 128, timeout: 1 }));
    const { dev, exit, out } = startDev(project, ["--json"]);
    const state = await until("imgfn dev to start", () => {
      if (dev.exitCode !== null) throw new Error(`imgfn dev exited (${dev.exitCode}): ${out.stderr}`);
      return out.stdout.includes("\n") ? JSON.parse(out.stdout.split("\n")[0]) : undefined;
    });
    const invokeUrl = `${state.invokeEndpoint}/2015-03-31/functions/function/invocations`;
    // the repro: an asynchronous event for a bucket that does not exist
    const event = JSON.parse(await readFile(new URL("./s3-event.json", import.meta.url), "utf8"));
    event.Records[0].s3.bucket.name = "no-such-bucket-here";
    const res = await fetch(invokeUrl, { method: "POST", headers: { "X-Amz-Invocation-Type": "Event" }, body: JSON.stringify(event) });
    expect(res.status).toBe(202);
    // and an upload whose invocation fails (memory or time): Lambda schedules a retry in 60 s
    const big = await sharp({ create: { width: 6000, height: 6000, channels: 3, background: "#808080", noise: { type: "gaussian" as const, mean: 128, sigma: 60 } } }).jpeg().toBuffer();
    const s3 = localS3Client(state.s3Endpoint, state.region);
    await s3.send(new PutObjectCommand({ Bucket: state.bucket, Key: "uploads/too-big.jpg", Body: big, ContentType: "image/jpeg" }));
    s3.destroy();
    await until("the retry warning", () => {
      if (dev.exitCode !== null) throw new Error(`imgfn dev exited (${dev.exitCode}): ${out.stderr}`);
      return /failed \(.+\); retry 1 in 60 s/.test(out.stderr) || undefined;
    }, 150_000);
    expect(out.stderr).not.toContain("TypeError");
    // still serving: a synchronous invocation is answered
    const sync = await fetch(invokeUrl, { method: "POST", body: JSON.stringify(event) });
    expect(sync.status).toBe(200);
    expect(dev.exitCode).toBe(null);
    dev.kill("SIGINT");
    expect(await exit).toBe(0);
  }, 180_000);
});
