import { readdir, stat } from "node:fs/promises";
import { basename, join, relative, resolve, sep } from "node:path";
import { loadConfig, type Config } from "../config.js";
import { ConfigError, InputNotFound, PartialFailure, UserError } from "../errors.js";
import { uploadAll, type UploadItem, type UploadOutcome } from "../pipeline/upload.js";
import { explainBucketError, resolveTarget } from "../target.js";
import { formatMs, type Output } from "../ui/output.js";
import { defineCommand } from "./command.js";
import { parsePositive } from "./predict.js";

export const uploadCommand = defineCommand({
  examples: ["upload --local samples/cat.jpg", "upload photos/ --top 3", "upload ./cat.jpg --json", "upload photos/ --no-wait --prefix uploads/batch-1/"],
  options: (cmd) => {
    cmd.option("--local", "use the local stack started by `imgfn dev` instead of AWS", false);
    cmd.option("--prefix <prefix>", "key prefix to upload under (default: the configured input prefix)");
    cmd.option("--timeout <seconds>", "how long to wait for each result", (v) => parsePositive(v, "--timeout"), 120);
    cmd.option("--no-wait", "upload only; do not wait for results");
    cmd.option("--concurrency <n>", "uploads in flight at once", (v) => parsePositive(v, "--concurrency"), 4);
    cmd.option("-t, --top <n>", "predictions to show per image (the result holds the config's topK)", (v) => parsePositive(v, "--top"), 3);
  },
  async run(ctx, paths: string[], opts) {
    const config = loadConfig(ctx.cwd, { region: ctx.globals.region }, ctx.globals.config);
    // local problems first: a missing file or a refused prefix needs no credentials to report
    await requireInputs(ctx.cwd, paths);
    if (opts.prefix !== undefined) refuseOutputPrefix(normalizePrefix(opts.prefix), config);
    const target = await resolveTarget(ctx, config, { local: opts.local });
    const rules = target.config;
    const prefix = normalizePrefix(opts.prefix ?? rules.inputPrefix);
    refuseOutputPrefix(prefix, rules);
    const items = await collectFiles(ctx.cwd, paths, prefix, rules, ctx.out);
    if (items.length === 0) throw new UserError(`nothing to upload: no files ending in ${rules.suffixes.join(", ")} under ${paths.join(", ")}`, { hint: `add the suffix to "suffixes" in imgfn.config.json (then imgfn deploy)` });
    if (opts.wait) warnUntriggered(ctx.out, items, rules);
    const s3 = target.s3;
    const outcomes = await ctx.out.step(`Uploading ${items.length} file${items.length > 1 ? "s" : ""} to s3://${target.bucket}/${prefix}${target.kind === "local" ? " (local stack)" : ""}`, async (s) => {
      const list = await uploadAll(s3, rules, target.bucket, items, {
        wait: opts.wait,
        timeout: opts.timeout * 1000,
        concurrency: opts.concurrency,
        signal: ctx.signal,
        onDone: (_o, done) => s.progress(done, items.length, opts.wait ? "processed" : "uploaded"),
      }).catch((err) => explainBucketError(err, target));
      const bad = list.filter(failed).length;
      s.done(bad ? `${bad} of ${list.length} failed` : opts.wait ? "all processed" : "all uploaded", bad ? (bad === list.length ? "fail" : "warn") : "ok");
      return list;
    });
    const summary = summarize(outcomes);
    ctx.out.result(outcomes.map(outcomeJson)); // an array, as before; the summary is derivable
    printOutcomes(ctx.out, outcomes, opts.wait, opts.top);
    if (opts.wait) ctx.out.print(summaryLine(ctx.out, summary));
    if (summary.errors) throw new PartialFailure(`${summary.errors} of ${outcomes.length} upload${outcomes.length > 1 ? "s" : ""} did not produce a classification`);
  },
});

const failed = (o: UploadOutcome) => Boolean(o.failure || o.result?.error);

/** Every path exists, before any AWS call (a typo must not first ask for credentials). */
async function requireInputs(cwd: string, paths: string[]): Promise<void> {
  for (const p of paths) {
    if (!(await stat(resolve(cwd, p)).catch(() => undefined))) throw new InputNotFound(`no such file or folder: ${p}`, { hint: "check the path; folders are uploaded with their images' relative paths" });
  }
}

/** Results are written under the output prefix and never processed: uploading there would wait forever. */
function refuseOutputPrefix(prefix: string, rules: Pick<Config, "outputPrefix" | "inputPrefix">): void {
  if (rules.outputPrefix && prefix.startsWith(rules.outputPrefix)) {
    throw new ConfigError(`--prefix ${prefix} is inside the output prefix "${rules.outputPrefix}": the function never processes keys there (it would retrigger itself)`, {
      hint: `upload under the input prefix "${rules.inputPrefix}" (the default), e.g. --prefix ${rules.inputPrefix}batch-1/`,
    });
  }
}

/** Says, before uploading, which files the trigger will not fire for and which setting decides it. */
export function warnUntriggered(out: Output, items: UploadItem[], rules: Pick<Config, "inputPrefix" | "outputPrefix" | "suffixes">): void {
  const notSuffix = items.filter((i) => rules.suffixes.length > 0 && !rules.suffixes.some((s) => i.key.endsWith(s)));
  if (notSuffix.length) {
    const names = notSuffix.slice(0, 5).map((i) => basename(i.key)).join(", ") + (notSuffix.length > 5 ? ` and ${notSuffix.length - 5} more` : "");
    out.warn(`${names}: the trigger will not fire (suffixes are ${rules.suffixes.join(" ")}, case-sensitive); add the suffix to "suffixes" in imgfn.config.json and redeploy (or restart imgfn dev)`);
  }
  const outside = items.filter((i) => !i.key.startsWith(rules.inputPrefix));
  if (outside.length) out.warn(`${outside.length} key${outside.length > 1 ? "s are" : " is"} outside the input prefix "${rules.inputPrefix}": the function will not process ${outside.length > 1 ? "them" : "it"}`);
}

export interface UploadSummary {
  done: number;
  errors: number;
  p50Ms?: number;
  p95Ms?: number;
}

/** Nearest-rank percentile of the end-to-end latencies. */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function summarize(outcomes: UploadOutcome[]): UploadSummary {
  const latencies = outcomes.filter((o) => !failed(o) && o.latency !== undefined).map((o) => o.latency!);
  const errors = outcomes.filter(failed).length;
  return { done: outcomes.length - errors, errors, p50Ms: percentile(latencies, 50), p95Ms: percentile(latencies, 95) };
}

function summaryLine(out: Output, s: UploadSummary): string {
  const { c } = out;
  const latency = s.p50Ms !== undefined ? `; end-to-end p50 ${formatMs(s.p50Ms)}, p95 ${formatMs(s.p95Ms!)}` : "";
  return `${s.done} done, ${s.errors ? c.red(`${s.errors} error${s.errors > 1 ? "s" : ""}`) : "0 errors"}${latency}`;
}

function normalizePrefix(p: string): string {
  if (p.startsWith("/")) throw new ConfigError(`--prefix must not start with "/" (S3 keys have no leading slash)`);
  return p === "" || p.endsWith("/") ? p : p + "/";
}

function matchesSuffix(name: string, suffixes: string[]): boolean {
  return suffixes.length === 0 || suffixes.some((s) => name.endsWith(s));
}

/** The files under a folder, sorted, skipping dot-files. */
export async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) files.push(...(await walk(p)));
    else if (e.isFile()) files.push(p);
  }
  return files;
}

/** Files → keys: a file goes to prefix + its name; a folder's images keep their relative paths. */
export async function collectFiles(cwd: string, paths: string[], prefix: string, rules: Pick<Config, "suffixes">, out: Output): Promise<UploadItem[]> {
  const items: UploadItem[] = [];
  for (const p of paths) {
    const abs = resolve(cwd, p);
    const info = await stat(abs).catch(() => undefined);
    if (!info) throw new UserError(`no such file or folder: ${p}`);
    if (info.isDirectory()) {
      const all = await walk(abs);
      const images = all.filter((f) => matchesSuffix(f, rules.suffixes));
      const skipped = all.filter((f) => !images.includes(f)).map((f) => relative(abs, f).split(sep).join("/"));
      if (skipped.length > 0) {
        const names = skipped.length <= 5 ? skipped.join(", ") : `${skipped.slice(0, 5).join(", ")} and ${skipped.length - 5} more`;
        out.warn(`${p}: not uploading ${skipped.length} file${skipped.length > 1 ? "s" : ""} whose name does not end in ${rules.suffixes.join(", ")} (the trigger would not fire for them; suffixes are case-sensitive): ${names}`);
      }
      for (const f of images) items.push({ file: f, key: prefix + relative(abs, f).split(sep).join("/") });
    } else {
      items.push({ file: abs, key: prefix + basename(abs) });
    }
  }
  const seen = new Map<string, string>();
  for (const it of items) {
    const other = seen.get(it.key);
    if (other) throw new UserError(`${other} and ${it.file} would both upload to ${it.key}`, { hint: "rename one, or upload them in separate runs with different --prefix values" });
    seen.set(it.key, it.file);
  }
  return items;
}

export function outcomeJson(o: UploadOutcome) {
  const status = o.failure ? "missing" : o.result?.error ? "error" : o.result ? "classified" : "uploaded";
  return {
    file: o.file,
    key: o.key,
    resultKey: o.resultKey,
    status,
    latencyMs: o.latency,
    predictions: o.result?.predictions,
    error: o.result?.error ?? (o.failure ? { code: "NO_RESULT", message: o.failure } : undefined),
    timings: o.result?.timings,
    coldStart: o.result?.coldStart,
    requestId: o.result?.requestId,
  };
}

/** "tabby (54.1%)" or the error, coloured. */
export function describeOutcome(out: Output, o: UploadOutcome): string {
  const { c } = out;
  if (o.failure) return c.red(o.failure);
  if (o.result?.error) return c.red(`${o.result.error.code}: ${o.result.error.message}`);
  const top = o.result?.predictions?.[0];
  return top ? `${c.bold(top.label)} ${c.dim(`(${(top.score * 100).toFixed(1)}%)`)}` : c.dim("uploaded");
}

/** One row per image with its top prediction, then one row for each of the next ones (top-k). */
function printOutcomes(out: Output, outcomes: UploadOutcome[], waited: boolean, top: number): void {
  const { c } = out;
  const rows = [[c.dim("key"), c.dim(waited ? "result" : "status"), c.dim(waited ? "score" : ""), ...(waited ? [c.dim("end-to-end")] : [])]];
  for (const o of outcomes) {
    const latency = waited ? [o.latency !== undefined ? formatMs(o.latency) : "-"] : [];
    const predictions = !failed(o) ? (o.result?.predictions ?? []).slice(0, top) : [];
    if (predictions.length === 0) {
      rows.push([o.key, describeOutcome(out, o), "", ...latency]);
      continue;
    }
    predictions.forEach((p, i) => {
      const score = `${(p.score * 100).toFixed(1)}%`;
      rows.push(i === 0 ? [o.key, c.bold(p.label), score, ...latency] : ["", c.dim(p.label), c.dim(score), ...(waited ? [""] : [])]);
    });
  }
  out.print(out.table(rows, { shrink: [0, 1], right: [2] }));
}
