import { readdir, stat } from "node:fs/promises";
import { basename, join, relative, resolve, sep } from "node:path";
import { loadConfig, type Config } from "../config.js";
import { ConfigError, PartialFailure, UserError } from "../errors.js";
import { uploadAll, type UploadItem, type UploadOutcome } from "../pipeline/upload.js";
import { resolveTarget } from "../target.js";
import { formatMs, table, type Output } from "../ui/output.js";
import { defineCommand } from "./command.js";
import { parsePositive } from "./predict.js";

export const uploadCommand = defineCommand({
  options: (cmd) => {
    cmd.option("--local", "use the local stack started by `imgfn dev` instead of AWS", false);
    cmd.option("--prefix <prefix>", "key prefix to upload under (default: the configured input prefix)");
    cmd.option("--timeout <seconds>", "how long to wait for each result", (v) => parsePositive(v, "--timeout"), 120);
    cmd.option("--no-wait", "upload only; do not wait for results");
    cmd.option("--concurrency <n>", "uploads in flight at once", (v) => parsePositive(v, "--concurrency"), 4);
  },
  async run(ctx, paths: string[], opts) {
    const config = loadConfig(ctx.cwd, { region: ctx.globals.region }, ctx.globals.config);
    const target = await resolveTarget(ctx, config, { local: opts.local });
    const rules = target.config;
    const prefix = normalizePrefix(opts.prefix ?? rules.inputPrefix);
    const items = await collectFiles(ctx.cwd, paths, prefix, rules, ctx.out);
    if (items.length === 0) throw new UserError(`nothing to upload: no files ending in ${rules.suffixes.join(", ")} under ${paths.join(", ")}`);
    const s3 = target.s3;
    const outcomes = await ctx.out.step(`Uploading ${items.length} file${items.length > 1 ? "s" : ""} to s3://${target.bucket}/${prefix} (${target.description})`, (s) =>
      uploadAll(s3, rules, target.bucket, items, {
        wait: opts.wait,
        timeout: opts.timeout * 1000,
        concurrency: opts.concurrency,
        signal: ctx.signal,
        onDone: (_o, done) => s.update(`${done}/${items.length}${opts.wait ? " processed" : " uploaded"}`),
      }).catch((err) => {
        if ((err as Error)?.name !== "NoSuchBucket") throw err;
        throw new UserError(`bucket ${target.bucket} does not exist (${target.description})`, {
          cause: err,
          hint: target.kind === "aws" ? `run "imgfn deploy" first, or set "bucket" in imgfn.config.json to an existing bucket` : `restart "imgfn dev"`,
        });
      }),
    );
    ctx.out.result(outcomes.map(outcomeJson));
    printOutcomes(ctx.out, outcomes, opts.wait);
    const bad = outcomes.filter((o) => o.failure || o.result?.error).length;
    if (bad) throw new PartialFailure(`${bad} of ${outcomes.length} upload${outcomes.length > 1 ? "s" : ""} did not produce a classification`);
  },
});

function normalizePrefix(p: string): string {
  if (p.startsWith("/")) throw new ConfigError(`--prefix must not start with "/" (S3 keys have no leading slash)`);
  return p === "" || p.endsWith("/") ? p : p + "/";
}

function matchesSuffix(name: string, suffixes: string[]): boolean {
  return suffixes.length === 0 || suffixes.some((s) => name.endsWith(s));
}

async function walk(dir: string): Promise<string[]> {
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

function printOutcomes(out: Output, outcomes: UploadOutcome[], waited: boolean): void {
  const { c } = out;
  const rows = [[c.dim("key"), c.dim(waited ? "result" : "status"), ...(waited ? [c.dim("end-to-end")] : [])]];
  for (const o of outcomes) {
    rows.push([o.key, describeOutcome(out, o), ...(waited ? [o.latency !== undefined ? formatMs(o.latency) : "-"] : [])]);
  }
  out.print(table(rows));
}
