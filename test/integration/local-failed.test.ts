// No event is lost locally: the failed store (`imgfn failed --local`, `imgfn retry --local`), the
// catch-up a restarted `imgfn dev` does, and `imgfn backfill --local`. The real local stack (S3
// server, trigger, emulator with retries, invoke URL) runs a small fixture function with the real
// function's S3 contract, so that a failure can be forced and removed, and 50 objects are quick.
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { validateConfig, type Config } from "../../src/config.js";
import { catchUpStack } from "../../src/local/catch-up.js";
import type { InvocationRecord } from "../../src/local/emulator.js";
import { localS3Client, startLocalStack, type LocalStack } from "../../src/local/stack.js";
import { devStateFor, localDir, removeDevState, writeDevState } from "../../src/local/state.js";
import { runCli } from "../helpers/cli.js";
import { catJpeg } from "../helpers/images.js";

const fixtures = fileURLToPath(new URL("../fixtures/functions/", import.meta.url));

interface Running {
  project: string;
  config: Config;
  stack: LocalStack;
  s3: S3Client;
  /** Result keys written by successful invocations, one entry per write. */
  writes: string[];
  invocations: InvocationRecord[];
  close(): Promise<void>;
}

const open: Running[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

/** A stack rooted in <project>/.imgfn/local, recorded in dev.json as `imgfn dev` does, so the CLI's --local finds it. */
async function startStack(project: string, fixture: string): Promise<Running> {
  const config = validateConfig({ app: "nolost", retries: 2 }, project);
  const stack = await startLocalStack({ config, taskRoot: join(fixtures, fixture), root: localDir(project), retryDelays: [20, 20] });
  writeDevState(project, devStateFor(stack, config));
  const s3 = localS3Client(stack.s3Endpoint, stack.region);
  const writes: string[] = [];
  const invocations: InvocationRecord[] = [];
  stack.emulator.on("invocation", (r: InvocationRecord) => {
    invocations.push(r);
    if (r.status === "success") writes.push(...((r.result as any)?.written ?? []));
  });
  const running: Running = {
    project,
    config,
    stack,
    s3,
    writes,
    invocations,
    async close() {
      s3.destroy();
      await stack.close();
      removeDevState(project, process.pid);
    },
  };
  open.push(running);
  return running;
}

async function put(s3: S3Client, bucket: string, key: string, body: Uint8Array | string): Promise<string> {
  const res = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return res.ETag!.replace(/"/g, "");
}
async function getText(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    return await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
  } catch (err) {
    if ((err as Error).name === "NoSuchKey") return undefined;
    throw err;
  }
}
/** Runs a test in a fresh project folder, stopping its stacks and removing it afterwards. */
async function inProject(prefix: string, test: (project: string) => Promise<void>): Promise<void> {
  const project = await mkdtemp(join(tmpdir(), prefix));
  try {
    await test(project);
  } finally {
    for (const r of open.splice(0)) await r.close();
    await rm(project, { recursive: true, force: true });
  }
}

/** A distinct photo (its own ETag) for each n. */
const photo = (n: number) => Buffer.concat([catJpeg(), Buffer.from(`#${n}`)]);

describe("the local failed store, imgfn failed --local and imgfn retry --local", () => {
  it("an event that fails every attempt is listed; once the cause is gone, retry produces exactly one result", () =>
    inProject("imgfn-failed-", async (project) => {
      const run = await startStack(project, "result-writer");
      const { stack, s3 } = run;
      await put(s3, stack.bucket, "control/fail", "on");
      const eTag = await put(s3, stack.bucket, "uploads/cat one.jpg", photo(1));
      await stack.idle();
      expect(run.invocations.map((i) => i.status)).toEqual(["error", "error", "error"]); // the first attempt plus two retries

      const listed = await runCli(["--json", "failed", "--local"], { cwd: project });
      expect(listed.code).toBe(0);
      const doc = JSON.parse(listed.stdout);
      expect(doc.count).toBe(1);
      expect(doc.events[0]).toMatchObject({ key: "uploads/cat one.jpg", bucket: stack.bucket, errorType: "Error", attempts: 3 });
      expect(doc.events[0].errorMessage).toMatch(/forced failure: control\/fail exists/);
      expect(Date.parse(doc.events[0].lastFailure)).toBeGreaterThan(Date.now() - 60_000);
      const human = await runCli(["failed", "--local"], { cwd: project });
      expect(human.stdout).toMatch(/uploads\/cat one\.jpg\s+Error: forced failure.*\s3\s+\d{4}-/);
      // the original event is kept as it was delivered (key URL-encoded, the object's ETag)
      const stored = JSON.parse(await readFile(join(localDir(project), "failed", (await readdir(join(localDir(project), "failed")))[0]), "utf8"));
      expect(stored.event.Records[0].s3.object).toMatchObject({ key: "uploads/cat+one.jpg", eTag });

      // bad requests: neither --all nor --key is a usage error; an unknown key is an error with a next step
      expect((await runCli(["retry", "--local"], { cwd: project })).code).toBe(2);
      const unknown = await runCli(["retry", "--local", "--key", "uploads/other.jpg"], { cwd: project });
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/no failed event for uploads\/other\.jpg/);

      await s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: "control/fail" }));
      const before = run.invocations.length;
      const retried = await runCli(["--json", "retry", "--local", "--key", "uploads/cat one.jpg"], { cwd: project });
      expect(retried.stderr).toBe("");
      expect(retried.code).toBe(0);
      const out = JSON.parse(retried.stdout);
      expect(out).toHaveLength(1);
      expect(out[0]).toMatchObject({ key: "uploads/cat one.jpg", status: "classified", resultKey: "results/cat one.jpg.json" });
      await stack.idle();
      expect(run.invocations.slice(before).map((i) => i.status)).toEqual(["success"]);
      expect(run.writes).toEqual(["results/cat one.jpg.json"]);
      expect(JSON.parse((await getText(s3, stack.bucket, "results/cat one.jpg.json"))!).input.etag).toBe(eTag);
      expect(JSON.parse((await runCli(["--json", "failed", "--local"], { cwd: project })).stdout).count).toBe(0);
      const again = await runCli(["retry", "--local", "--all"], { cwd: project });
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/nothing to retry/);
    }));

  it("failed --local reads the store with no stack running; retry --local then says to start dev", () =>
    inProject("imgfn-failed-", async (project) => {
      const run = await startStack(project, "result-writer");
      await put(run.s3, run.stack.bucket, "control/fail", "on");
      await put(run.s3, run.stack.bucket, "uploads/dog.jpg", photo(2));
      await run.stack.idle();
      await run.close();
      open.splice(0);
      const listed = JSON.parse((await runCli(["--json", "failed", "--local"], { cwd: project })).stdout);
      expect(listed.events.map((e: any) => e.key)).toEqual(["uploads/dog.jpg"]);
      const retry = await runCli(["retry", "--local", "--all"], { cwd: project });
      expect(retry.code).toBe(1);
      expect(retry.stderr).toMatch(/no local stack is running/);
      expect(JSON.parse((await runCli(["--json", "failed", "--local"], { cwd: project })).stdout).count).toBe(1); // nothing lost
      // the next start leaves it to retry instead of reprocessing it behind the user's back
      const next = await startStack(project, "result-writer");
      const caught = await catchUpStack(next.stack, next.config);
      expect(caught).toMatchObject({ listed: 0, keptAsFailed: 1, pending: [] });
    }));
});

describe("imgfn retry --local of an event whose object was replaced since", () => {
  it("re-invokes it, and reports it superseded instead of waiting for a result that will not come", () =>
    inProject("imgfn-failed-", async (project) => {
      const run = await startStack(project, "result-writer");
      const { stack, s3 } = run;
      await put(s3, stack.bucket, "control/fail", "on");
      await put(s3, stack.bucket, "uploads/pet.jpg", photo(1));
      await stack.idle();
      await s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: "control/fail" }));
      const newer = await put(s3, stack.bucket, "uploads/pet.jpg", photo(2)); // its own event succeeds
      await stack.idle();
      const res = await runCli(["--json", "retry", "--local", "--all", "--timeout", "600"], { cwd: project });
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout)).toEqual([expect.objectContaining({ key: "uploads/pet.jpg", status: "superseded" })]);
      expect(JSON.parse((await runCli(["--json", "failed", "--local"], { cwd: project })).stdout).count).toBe(0);
      await stack.idle();
      expect(JSON.parse((await getText(s3, stack.bucket, "results/pet.jpg.json"))!).input.etag).toBe(newer);
    }));
});

describe("imgfn dev's restart catch-up", () => {
  it("events left queued or running when the stack stopped are processed at the next start, and it says how many", () =>
    inProject("imgfn-catchup-", async (project) => {
      const first = await startStack(project, "sleeper");
      const { bucket } = first.stack;
      const tags: Record<string, string> = {};
      for (const name of ["a", "b", "c", "current", "stale"]) tags[name] = await put(first.s3, bucket, `uploads/${name}.jpg`, photo(name.length * 7 + name.charCodeAt(0)));
      const currentResult = JSON.stringify({ input: { bucket, key: "uploads/current.jpg", etag: tags.current }, predictions: [] });
      await put(first.s3, bucket, "results/current.jpg.json", currentResult);
      await put(first.s3, bucket, "results/stale.jpg.json", JSON.stringify({ input: { bucket, key: "uploads/stale.jpg", etag: "0".repeat(32) }, predictions: [] }));
      await first.close(); // two events running (concurrency 2), three queued: all cut short
      open.splice(0);
      expect(await readdir(join(localDir(project), "failed")).catch(() => [])).toEqual([]); // a shutdown is not a failure

      const second = await startStack(project, "result-writer");
      const caught = await catchUpStack(second.stack, second.config);
      expect(caught.listed).toBe(5);
      expect(caught.current).toBe(1);
      expect(caught.pending.map((p) => `${p.key} ${p.why}`).sort()).toEqual(["uploads/a.jpg no result", "uploads/b.jpg no result", "uploads/c.jpg no result", "uploads/stale.jpg stale result"]);
      await second.stack.idle();
      expect(second.writes.sort()).toEqual(["results/a.jpg.json", "results/b.jpg.json", "results/c.jpg.json", "results/stale.jpg.json"]);
      for (const name of ["a", "b", "c", "stale"]) expect(JSON.parse((await getText(second.s3, bucket, `results/${name}.jpg.json`))!).input.etag).toBe(tags[name]);
      expect(await getText(second.s3, bucket, "results/current.jpg.json")).toBe(currentResult);
    }));
});

describe("imgfn backfill --local", () => {
  it("on a bucket with 50 photos and 10 existing results, --dry-run counts and backfill processes exactly the 40 others", () =>
    inProject("imgfn-backfill-", async (project) => {
      const run = await startStack(project, "result-writer");
      const { stack, s3 } = run;
      const { bucket } = stack;
      await put(s3, bucket, "control/pause", "photos arrived before imgfn was attached");
      const tags: string[] = [];
      for (let n = 0; n < 50; n++) tags.push(await put(s3, bucket, `uploads/photos/p${String(n).padStart(2, "0")}.jpg`, photo(n)));
      await put(s3, bucket, "uploads/notes.txt", "not an image: the trigger rules leave it alone");
      await stack.idle();
      expect(run.writes).toEqual([]);
      const existing = new Map<string, string>();
      for (let n = 0; n < 10; n++) {
        const body = JSON.stringify({ input: { bucket, key: `uploads/photos/p${String(n).padStart(2, "0")}.jpg`, etag: tags[n] }, predictions: [{ label: "earlier", index: 1, score: 1 }] });
        existing.set(`results/photos/p${String(n).padStart(2, "0")}.jpg.json`, body);
        await put(s3, bucket, `results/photos/p${String(n).padStart(2, "0")}.jpg.json`, body);
      }
      // five of the others have a result for an older upload of the key: not current either
      for (let n = 10; n < 15; n++) await put(s3, bucket, `results/photos/p${n}.jpg.json`, JSON.stringify({ input: { etag: "f".repeat(32) } }));
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "control/pause" }));
      const invokedBefore = run.invocations.length;

      const dry = await runCli(["--json", "backfill", "--local", "--dry-run"], { cwd: project });
      expect(dry.code).toBe(0);
      expect(JSON.parse(dry.stdout)).toMatchObject({ listed: 50, current: 10, pending: 40, noResult: 35, staleResult: 5, invoked: 0, dryRun: true });
      const human = await runCli(["backfill", "--local", "--dry-run"], { cwd: project });
      expect(human.stdout).toMatch(/40 objects would be processed \(35 with no result, 5 with a result for another ETag\)/);
      await stack.idle();
      expect(run.invocations.length).toBe(invokedBefore); // counting invokes nothing

      const real = await runCli(["--json", "backfill", "--local", "--concurrency", "4"], { cwd: project });
      expect(real.stderr).toBe("");
      expect(real.code).toBe(0);
      expect(JSON.parse(real.stdout)).toMatchObject({ listed: 50, current: 10, pending: 40, invoked: 40, refused: [] });
      await stack.idle();
      const expected = Array.from({ length: 40 }, (_, i) => `results/photos/p${i + 10}.jpg.json`);
      expect(run.writes.sort()).toEqual(expected); // each of the 40 exactly once, none of the 10
      for (let n = 10; n < 50; n++) expect(JSON.parse((await getText(s3, bucket, `results/photos/p${n}.jpg.json`))!).input.etag).toBe(tags[n]);
      for (const [key, body] of existing) expect(await getText(s3, bucket, key)).toBe(body);
      const after = JSON.parse((await runCli(["--json", "backfill", "--local", "--dry-run"], { cwd: project })).stdout);
      expect(after).toMatchObject({ listed: 50, current: 50, pending: 0 });
    }));

  it("without a running stack it says how to start one", () =>
    inProject("imgfn-backfill-", async (project) => {
      const res = await runCli(["backfill", "--local"], { cwd: project });
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/no local stack is running.*\n.*imgfn dev/);
      expect(existsSync(join(project, ".imgfn"))).toBe(false);
    }));
});
