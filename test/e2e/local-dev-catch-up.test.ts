// `imgfn dev` stopped while events are still queued or running: the next `imgfn dev` finds the
// uploads with no current result, says how many, and processes each of them once (the real
// stack, the real function and model, two dev processes one after the other on one project).
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { localS3Client } from "../../src/local/stack.js";
import { waitForResult } from "../../src/pipeline/upload.js";
import { parseHandlerLine } from "../../src/ui/logs.js";
import { type DevProcess, startDev } from "../helpers/dev.js";
import { sample, until } from "./helpers.js";

const running: DevProcess[] = [];
afterEach(async () => {
  for (const { child, exited } of running.splice(0)) {
    if (child.exitCode === null) child.kill("SIGKILL");
    await exited;
  }
});

/** dev with one worker, so that most of a burst is still queued or running when it stops. */
async function startOneWorkerDev(cwd: string): Promise<DevProcess> {
  const dev = await startDev(cwd, ["--concurrency", "1"]);
  running.push(dev);
  return dev;
}

/** Keys the function classified, from dev --json's stdout (one log event a line after the first). */
function classifiedKeys(lines: string[]): string[] {
  return lines
    .slice(1)
    .map((l) => parseHandlerLine(JSON.parse(l).message ?? ""))
    .filter((h) => h?.msg === "classified")
    .map((h) => h!.key);
}

describe("imgfn dev restart", () => {
  it("processes the uploads a stopped dev left without a result, once each, and says how many", async () => {
    const project = await mkdtemp(join(tmpdir(), "imgfn-e2e-catchup-"));
    try {
      const cat = await readFile(sample("cat.jpg"));
      const first = await startOneWorkerDev(project);
      expect(first.state.catchUp).toEqual({ listed: 0, pending: 0, keptAsFailed: 0 });
      const s3 = localS3Client(first.state.s3Endpoint);
      const etags: Record<string, string> = {};
      for (let n = 0; n < 6; n++) {
        const key = `uploads/burst/cat-${n}.jpg`;
        const res = await s3.send(new PutObjectCommand({ Bucket: first.state.bucket, Key: key, Body: Buffer.concat([cat, Buffer.from([n])]), ContentType: "image/jpeg" }));
        etags[key] = res.ETag!.replace(/"/g, "");
      }
      s3.destroy();
      first.child.kill("SIGINT"); // one worker, still cold: most of the six are queued or running
      expect(await first.exited).toBe(0);
      const classifiedBefore = classifiedKeys(first.lines);

      const second = await startOneWorkerDev(project);
      const { pending, listed } = second.state.catchUp;
      expect(listed).toBe(6);
      expect(pending).toBeGreaterThan(0);
      expect(pending).toBeLessThanOrEqual(6 - classifiedBefore.length);
      const s3b = localS3Client(second.state.s3Endpoint);
      for (const [key, etag] of Object.entries(etags)) {
        const result = await waitForResult(s3b, second.state.bucket, key.replace("uploads/", "results/") + ".json", 0, { etag, timeout: 90_000 });
        expect(result.predictions?.length).toBeGreaterThan(0);
      }
      s3b.destroy();
      await until("the last classification's log line", () => classifiedKeys(second.lines).length >= pending || undefined);
      const classifiedAfter = classifiedKeys(second.lines);
      // each left-over upload processed once, none of those the first dev finished
      expect(classifiedAfter).toHaveLength(pending);
      expect(new Set(classifiedAfter).size).toBe(pending);
      expect(classifiedAfter.filter((k) => classifiedBefore.includes(k))).toEqual([]);
      second.child.kill("SIGINT");
      expect(await second.exited).toBe(0);
    } finally {
      await rm(project, { recursive: true, force: true });
    }
  }, 240_000);
});
