/**
 * The staged function loaded in this process (as Lambda's runtime would: import index.mjs with
 * its environment set), plus the per-stage timings it logs for each record.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { s3Record, s3Event } from "../../test/helpers/events.js";

export interface StageTimings {
  download: number;
  preprocess: number;
  inference: number;
  upload: number;
  total: number;
}

export interface LoadedFunction {
  handler: (event: unknown, ctx: unknown) => Promise<any>;
  classifier: () => Promise<any>;
  /** Invokes the handler for one S3 object and returns the stage timings it logged. */
  invoke(bucket: string, key: string, size: number): Promise<StageTimings & { wall: number }>;
}

export async function loadFunction(taskRoot: string, env: Record<string, string>): Promise<LoadedFunction> {
  Object.assign(process.env, env, { LAMBDA_TASK_ROOT: taskRoot });
  let last: any;
  const original = console.log;
  console.log = (...args: unknown[]) => {
    const line = String(args[0]);
    if (line.startsWith("{")) {
      try {
        const parsed = JSON.parse(line);
        if (parsed.msg === "classified") return void (last = parsed);
      } catch {}
    }
    original(...args);
  };
  const mod = await import(pathToFileURL(join(taskRoot, "index.mjs")).href);
  return {
    handler: mod.handler,
    classifier: mod.classifier,
    async invoke(bucket, key, size) {
      last = undefined;
      const t0 = performance.now();
      const out = await mod.handler(s3Event(s3Record(bucket, key, size)), { awsRequestId: randomBytes(8).toString("hex") });
      const wall = performance.now() - t0;
      if (out.results?.[0]?.status !== "classified" || !last) throw new Error(`not classified: ${JSON.stringify(out)}`);
      return { ...(last.timings as StageTimings), wall };
    },
  };
}
