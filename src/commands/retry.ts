import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { outputKeyFor } from "../../handler/keys.js";
import { loadConfig } from "../config.js";
import { ConfigError, PartialFailure, UserError } from "../errors.js";
import { failedEventJson, type FailedEvent } from "../pipeline/failures.js";
import { ResultTimeout, waitForResult, type ResultDocument } from "../pipeline/upload.js";
import { resolveTarget, type Target } from "../target.js";
import { table } from "../ui/output.js";
import { defineCommand } from "./command.js";
import { parsePositive } from "./predict.js";
import { describeOutcome } from "./upload.js";

/** How long `retry` holds the messages it read (SQS): enough to re-invoke them all. */
const RETRY_HOLD_SECONDS = 300;

interface Replayed {
  entry: FailedEvent;
  key?: string;
  resultKey?: string;
  status: "retried" | "classified" | "error" | "missing" | "not replayable" | "superseded";
  result?: ResultDocument;
  failure?: string;
  latency?: number;
}

export const retryCommand = defineCommand({
  examples: ["retry --all", "retry --key uploads/cat.jpg", "retry --all --local", "retry --all --no-wait --json"],
  options: (cmd) => {
    cmd.option("--all", "replay every failed event", false);
    cmd.option("--key <key>", "replay the failed events for this object key");
    cmd.option("--local", "the local failed store and the running `imgfn dev` stack instead of AWS", false);
    cmd.option("--timeout <seconds>", "how long to wait for each result", (v) => parsePositive(v, "--timeout"), 120);
    cmd.option("--no-wait", "re-invoke only; do not wait for the results");
  },
  async run(ctx, opts) {
    if (Boolean(opts.all) === Boolean(opts.key)) throw new ConfigError("give exactly one of --all or --key <key> (see the events with `imgfn failed`)");
    const config = loadConfig(ctx.cwd, { region: ctx.globals.region }, ctx.globals.config);
    const target = await resolveTarget(ctx, config, { local: opts.local });
    const entries = await target.failures.list({ holdSeconds: RETRY_HOLD_SECONDS });
    const selected = opts.all ? entries : entries.filter((e) => e.keys.includes(String(opts.key)));
    await target.failures.release(entries.filter((e) => !selected.includes(e)));
    if (selected.length === 0 && opts.all) {
      ctx.out.result([]);
      ctx.out.print(`nothing to retry: no failed events in ${target.failures.description}`);
      return;
    }
    if (selected.length === 0) {
      throw new UserError(`no failed event for ${opts.key} in ${target.failures.description}`, { hint: `list them with "imgfn failed${opts.local ? " --local" : ""}"` });
    }
    const started = Date.now();
    const replayed = await ctx.out.step(`Re-invoking ${selected.length} failed event${selected.length > 1 ? "s" : ""} (${target.description})`, async (s) => {
      const done: Replayed[] = [];
      try {
        for (const entry of selected) {
          if (entry.event === undefined) {
            done.push({ entry, key: entry.keys[0], status: "not replayable", failure: entry.errorMessage });
            continue;
          }
          // the same path S3 uses: an asynchronous invocation with the original event; the entry
          // is deleted only once that invocation was accepted
          await target.invokeAsync(entry.event);
          await target.failures.remove(entry);
          done.push({ entry, key: entry.keys[0], status: "retried" });
          s.update(`${done.length}/${selected.length} accepted`);
        }
      } catch (err) {
        // the ones not replayed stay, visible again at once
        await target.failures.release(selected.filter((e) => !done.some((d) => d.entry === e)));
        throw err;
      }
      return done;
    });
    await target.failures.release(replayed.filter((r) => r.status === "not replayable").map((r) => r.entry));
    const awaited = replayed.filter((r) => r.status === "retried" && r.key !== undefined);
    if (opts.wait && awaited.length > 0) {
      await ctx.out.step(`Waiting for ${awaited.length} result${awaited.length > 1 ? "s" : ""}`, (s) => waitForAll(target, awaited, started, opts.timeout * 1000, ctx.signal, (n) => s.update(`${n}/${awaited.length}`)));
    }
    ctx.out.result(replayed.map((r) => ({ ...failedEventJson(r.entry), status: r.status, resultKey: r.resultKey, latencyMs: r.latency, predictions: r.result?.predictions, error: r.result?.error ?? (r.failure ? { code: "NO_RESULT", message: r.failure } : undefined) })));
    const { c } = ctx.out;
    const rows = [[c.dim("key"), c.dim("result")]];
    for (const r of replayed) {
      const shown =
        r.status === "retried" ? c.dim("re-invoked") : r.status === "not replayable" ? c.red(`not replayable: ${r.failure}`) : r.status === "superseded" ? c.yellow(`skipped: ${r.failure}`) : describeOutcome(ctx.out, { file: "", key: r.key ?? "", resultKey: r.resultKey ?? "", result: r.result, failure: r.failure });
      rows.push([r.key ?? c.dim("(no S3 record)"), shown]);
    }
    ctx.out.print(table(rows));
    const bad = replayed.filter((r) => r.status === "missing" || r.status === "not replayable" || r.status === "error").length;
    if (bad) throw new PartialFailure(`${bad} of ${replayed.length} retried event${replayed.length > 1 ? "s" : ""} did not produce a classification (see "imgfn failed${opts.local ? " --local" : ""}" and "imgfn logs${opts.local ? " --local" : ""}")`);
  },
});

/** Like `upload`: waits for each re-invoked event's result object, written after the retry began, for the event's ETag. */
async function waitForAll(target: Target, replayed: Replayed[], notBefore: number, timeout: number, signal: AbortSignal, progress: (n: number) => void): Promise<void> {
  let n = 0;
  await Promise.all(
    replayed.map(async (r) => {
      r.resultKey = outputKeyFor(r.key!, target.config);
      const bucket = r.entry.bucket ?? target.bucket;
      // the function skips an event whose object was replaced or deleted since: no result to wait for
      const now = await currentEtag(target, bucket, r.key!);
      if (r.entry.eTag && now !== r.entry.eTag) {
        r.status = "superseded";
        r.failure = now === undefined ? "the object no longer exists" : "the object was replaced since this event; the newer upload's event writes its result";
        progress(++n);
        return;
      }
      const t0 = performance.now();
      try {
        r.result = await waitForResult(target.s3, bucket, r.resultKey, notBefore, { timeout, signal, etag: r.entry.eTag });
        r.latency = Math.round(performance.now() - t0);
        r.status = r.result.error ? "error" : "classified";
      } catch (err) {
        if (!(err instanceof ResultTimeout)) throw err;
        r.status = "missing";
        r.failure = `${err.message}; it may have failed again`;
      }
      progress(++n);
    }),
  );
}

async function currentEtag(target: Target, bucket: string, key: string): Promise<string | undefined> {
  try {
    return (await target.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag?.replace(/"/g, "");
  } catch (err) {
    const status = (err as any)?.$metadata?.httpStatusCode;
    if (status === 404 || status === 403) return undefined;
    throw err;
  }
}
