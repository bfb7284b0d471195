import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { ConfigError, PartialFailure, UserError } from "../errors.js";
import { compareGolden, GoldenMismatch, goldenPaths, readGolden, readGoldenImages, renderGoldenReport } from "../golden/golden.js";
import { answersFromOutcomes } from "../golden/s3.js";
import { goldenOptions } from "./golden-options.js";
import type { InvocationRecord } from "../local/emulator.js";
import { localS3Client } from "../local/s3.js";
import type { LocalStack } from "../local/stack.js";
import { isAlive } from "../local/state.js";
import { samplePath } from "../paths.js";
import { uploadAll, uploadAndWait, type UploadItem, type UploadOutcome } from "../pipeline/upload.js";
import { formatMs } from "../ui/output.js";
import { defineCommand } from "./command.js";
import { startStackForCommand } from "./dev.js";
import { modelOptions } from "./model-options.js";
import { parsePositive } from "./predict.js";
import { describeOutcome, outcomeJson, warnUntriggered } from "./upload.js";

export const demoCommand = defineCommand({
  examples: ["demo", "demo photos/*.jpg", "demo samples/cat.jpg --json", "demo --model my-model.onnx --labels labels.txt"],
  globals: ["json", "config"],
  options: (cmd) => {
    cmd.option("--timeout <seconds>", "how long to wait for each result", (v) => parsePositive(v, "--timeout"), 120);
    goldenOptions(cmd, "upload its images instead of the samples and check the function answers as recorded");
    modelOptions(cmd);
  },
  async run(ctx, files: string[], opts) {
    const golden = opts.golden ? await readGolden(resolve(ctx.cwd, opts.golden)) : undefined;
    if (golden && files.length) throw new ConfigError("pass image files or --golden, not both");
    if (golden) await readGoldenImages(golden, resolve(ctx.cwd, opts.golden));
    const paths = golden
      ? goldenPaths(golden, resolve(ctx.cwd, opts.golden))
      : files.length > 0
        ? files.map((f) => resolve(ctx.cwd, f))
        : [samplePath("cat.jpg"), samplePath("espresso.jpg")];
    for (const [i, p] of paths.entries()) {
      const info = await stat(p).catch(() => undefined);
      if (!info?.isFile()) throw new UserError(`no such file: ${files[i] ?? p}`, { hint: "imgfn demo takes image files; for folders use imgfn dev + imgfn upload --local" });
    }
    const root = await mkdtemp(join(tmpdir(), "imgfn-demo-"));
    let stack: LocalStack | undefined;
    const pids = new Set<number>();
    try {
      const started = await startStackForCommand(ctx, opts, root);
      stack = started.stack;
      const { config } = started;
      const reports = new Map<string, InvocationRecord>();
      stack.emulator.on("invocation", (r: InvocationRecord) => reports.set(r.requestId, r));
      stack.emulator.on("spawn", (pid: number) => pids.add(pid));
      const s3 = localS3Client(stack.s3Endpoint, stack.region);
      const seen = new Map<string, number>();
      const items: UploadItem[] = paths.map((file) => {
        const name = basename(file);
        const n = (seen.get(name) ?? 0) + 1;
        seen.set(name, n);
        return { file, key: `${config.inputPrefix}${n > 1 ? `${n}-` : ""}${name}` };
      });
      warnUntriggered(ctx.out, items, config);
      const wait = { timeout: opts.timeout * 1000, signal: ctx.signal };
      const outcomes = await ctx.out.step(`Uploading ${items.length} image${items.length > 1 ? "s" : ""} to s3://${stack.bucket}/${config.inputPrefix} and waiting for results`, async (s) => {
        // The first alone, so it shows the cold start and the rest can show warm reuse.
        const first = await uploadAndWait(s3, config, stack!.bucket, items[0].file, items[0].key, wait);
        s.progress(1, items.length, "processed");
        const rest = await uploadAll(s3, config, stack!.bucket, items.slice(1), { ...wait, concurrency: config.concurrency, onDone: (_o, d) => s.progress(d + 1, items.length, "processed") });
        const all = [first, ...rest];
        const bad = all.filter((o) => o.failure || o.result?.error || !o.result?.predictions?.length).length;
        if (bad) s.done(`${bad} of ${all.length} did not classify`, bad === all.length ? "fail" : "warn");
        return all;
      });
      s3.destroy();
      await reportsOf(stack, reports, outcomes);

      const rows = outcomes.map((o) => ({ o, r: o.result?.requestId ? reports.get(o.result.requestId) : undefined }));
      const goldenAnswers = golden ? answersFromOutcomes(outcomes) : undefined;
      const goldenReport = golden ? compareGolden(golden, goldenAnswers!.answers, opts.tolerance, goldenAnswers!.model) : undefined;
      ctx.out.result({
        golden: goldenReport,
        results: rows.map(({ o, r }) => ({ ...outcomeJson(o), start: r ? (r.initDurationMs !== undefined ? "cold" : "warm") : undefined, initDurationMs: r?.initDurationMs, functionDurationMs: r?.durationMs, maxMemoryUsedMb: r?.maxMemoryUsedMb })),
        workerPids: [...pids],
      });
      printTable(ctx.out, rows);
      const cold = rows.find(({ r }) => r?.initDurationMs !== undefined)?.r;
      const warm = rows.find(({ r }) => r && r.initDurationMs === undefined)?.r;
      const c = ctx.out.c;
      ctx.out.print("");
      if (cold) ctx.out.print(`  cold start: ${formatMs(cold.initDurationMs!)} init (module + model load) + ${formatMs(cold.durationMs)} handler`);
      if (warm) ctx.out.print(`  warm:       ${formatMs(warm.durationMs)} handler (same worker, model already loaded)`);
      ctx.out.print(c.dim(`  function ${stack.functionName}, ${config.memory} MB; end-to-end = upload → S3 event → function → result object readable`));
      if (goldenReport) {
        ctx.out.print("");
        ctx.out.print(renderGoldenReport(goldenReport));
        if (!goldenReport.passed) throw new GoldenMismatch(goldenReport);
      }
      const bad = outcomes.filter((o) => o.failure || o.result?.error || !o.result?.predictions?.length).length;
      if (bad) throw new PartialFailure(`${bad} of ${outcomes.length} image${outcomes.length > 1 ? "s" : ""} did not classify`);
    } finally {
      if (stack) {
        const st = stack;
        await ctx.out.step("Stopping the local stack", async (s) => {
          await st.close();
          const left = [...pids].filter(isAlive);
          s.done(left.length ? `processes still running: ${left.join(", ")}` : "no processes left running");
        });
      }
      await rm(root, { recursive: true, force: true });
    }
  },
});

/**
 * Waits for the REPORT of every invocation that wrote a result (it ends moments after the result
 * is readable), but not for the retries of a failed event: Lambda's are minutes away.
 */
async function reportsOf(stack: LocalStack, reports: Map<string, InvocationRecord>, outcomes: UploadOutcome[]): Promise<void> {
  const wanted = outcomes.map((o) => o.result?.requestId).filter((id): id is string => typeof id === "string");
  const complete = () => wanted.every((id) => reports.has(id));
  if (complete()) return;
  await new Promise<void>((resolve) => {
    const check = () => {
      if (!complete()) return;
      stack.emulator.off("invocation", check);
      resolve();
    };
    stack.emulator.on("invocation", check);
    void stack.idle().then(() => {
      stack.emulator.off("invocation", check);
      resolve();
    });
  });
}

function printTable(out: import("../ui/output.js").Output, rows: { o: UploadOutcome; r?: InvocationRecord }[]): void {
  const c = out.c;
  const table_ = [[c.dim("image"), c.dim("top class"), c.dim("start"), c.dim("init"), c.dim("function"), c.dim("end-to-end")]];
  for (const { o, r } of rows) {
    table_.push([
      basename(o.file),
      describeOutcome(out, o),
      r ? (r.initDurationMs !== undefined ? c.yellow("cold") : c.green("warm")) : "-",
      r?.initDurationMs !== undefined ? formatMs(r.initDurationMs) : "-",
      r ? formatMs(r.durationMs) : "-",
      o.latency !== undefined ? formatMs(o.latency) : "-",
    ]);
  }
  out.print("");
  out.print(out.table(table_, { indent: 2, shrink: [0, 1] }));
}
