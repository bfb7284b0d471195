import { outputKeyFor } from "../../handler/keys.js";
import { loadConfig } from "../config.js";
import { ConfigError, UserError } from "../errors.js";
import { loadResults, readResultDocument, toRow, type ResultRow } from "../results/read.js";
import { barLines, printable, resultTable } from "../results/text.js";
import { explainBucketError, resolveTarget, type Target } from "../target.js";
import { formatMs, type Output } from "../ui/output.js";
import { defineCommand } from "./command.js";
import { parseSince } from "./logs.js";
import { parsePositive } from "./predict.js";

/** Terminal columns for width-aware rows: the TTY's width, else $COLUMNS, else no limit (a pipe). */
export function outputWidth(out: Output, env: NodeJS.ProcessEnv): number | undefined {
  const tty = (out.stdout as NodeJS.WriteStream).columns;
  if (tty) return tty;
  const cols = Number(env.COLUMNS);
  return Number.isInteger(cols) && cols > 0 ? cols : undefined;
}

export function rowJson(row: ResultRow) {
  const { document, ...rest } = row;
  return { ...rest, when: new Date(row.when).toISOString(), document };
}

/** A key as the user may give it: the image (uploads/cat.jpg), the result (results/cat.jpg.json), or the name under either prefix. */
export function resultKeyFor(key: string, rules: Target["config"]): string {
  if (key.startsWith(rules.outputPrefix) && key.endsWith(".json")) return key;
  if (key.startsWith(rules.inputPrefix)) return outputKeyFor(key, rules);
  return `${rules.outputPrefix}${key}${key.endsWith(".json") ? "" : ".json"}`;
}

export const resultsCommand = defineCommand({
  examples: ["results --local", "results --errors --since 1d", "results --label cat --limit 10", "results uploads/cat.jpg --json"],
  options: (cmd) => {
    cmd.option("--local", "read the local stack's results (imgfn dev) instead of AWS", false);
    cmd.option("--prefix <prefix>", "only results under this key prefix (default: the configured output prefix)");
    cmd.option("--errors", "only results that are errors (bad input, unreadable documents)", false);
    cmd.option("--label <text>", "only results whose top-1 label contains this text (case-insensitive)");
    cmd.option("--since <when>", "only results written since then (30s, 10m, 2h, 1d or an ISO time)");
    cmd.option("--limit <n>", "at most this many rows, newest first", (v) => parsePositive(v, "--limit"), 50);
  },
  async run(ctx, key: string | undefined, opts) {
    const since = opts.since !== undefined ? parseSince(opts.since) : undefined;
    const config = loadConfig(ctx.cwd, { region: ctx.globals.region }, ctx.globals.config);
    const target = await resolveTarget(ctx, config, { local: opts.local });
    const rules = target.config;
    if (key !== undefined) return showOne(ctx.out, ctx.env, target, resultKeyFor(key, rules));
    const prefix = opts.prefix ?? rules.outputPrefix;
    if (prefix.startsWith("/")) throw new ConfigError(`--prefix must not start with "/" (S3 keys have no leading slash)`);
    const { rows, listed } = await loadResults(target.s3, target.bucket, { prefix, since, errors: opts.errors, label: opts.label, limit: opts.limit, signal: ctx.signal }).catch((err) => explainBucketError(err, target));
    ctx.out.result({ target: target.description, bucket: target.bucket, prefix, listed, count: rows.length, results: rows.map(rowJson) });
    if (ctx.out.json) return;
    if (rows.length === 0) {
      const filters = [opts.errors && "errors only", opts.label && `top-1 label containing "${opts.label}"`, since !== undefined && `since ${new Date(since).toISOString()}`].filter(Boolean);
      ctx.out.info(`no results under s3://${target.bucket}/${prefix}${filters.length ? ` (${filters.join(", ")}; ${listed} listed)` : ""} — ${target.description}`);
      return;
    }
    const c = ctx.out.c;
    for (const line of resultTable(rows, { width: outputWidth(ctx.out, ctx.env), style: { key: c.bold, bad: c.red, dim: c.dim } })) ctx.out.print(line);
    ctx.out.info(c.dim(`${rows.length} of ${listed} result${listed === 1 ? "" : "s"} under s3://${target.bucket}/${prefix}, newest first (${target.description})`));
  },
});

async function showOne(out: Output, env: NodeJS.ProcessEnv, target: Target, resultKey: string): Promise<void> {
  const object = { key: resultKey, lastModified: 0, size: 0 };
  const row = await readResultDocument(target.s3, target.bucket, resultKey).then((doc) => toRow(object, doc), (err) => {
    if (err instanceof SyntaxError) return toRow(object, undefined, `not JSON: ${err.message}`);
    if ((err as Error)?.name === "NoSuchKey") {
      throw new UserError(`no result at s3://${target.bucket}/${resultKey} (${target.description})`, {
        cause: err,
        hint: `"imgfn results${target.kind === "local" ? " --local" : ""}" lists the results there are; a result appears once the function has processed the upload`,
      });
    }
    return explainBucketError(err, target);
  });
  out.result(rowJson(row));
  if (out.json) return;
  const { c } = out;
  const doc = row.document;
  const field = (name: string, value: string) => out.print(`${c.dim(name.padEnd(10))} ${value}`);
  field("image", c.bold(printable(row.key)));
  field("result", `s3://${target.bucket}/${printable(row.resultKey)}`);
  field("status", row.status === "classified" ? c.green(row.status) : c.red(row.status));
  field("when", new Date(row.when).toISOString());
  if (doc?.model) field("model", `${doc.model.id}${doc.model.sha256 ? ` (sha256 ${doc.model.sha256.slice(0, 12)}…)` : ""}`);
  if (row.size !== undefined) field("size", `${row.size} bytes`);
  if (doc?.timings) field("timings", Object.entries(doc.timings).map(([k, v]) => `${k} ${formatMs(v)}`).join(", "));
  if (row.coldStart !== undefined) field("start", row.coldStart ? "cold" : "warm");
  if (row.requestId) field("request", row.requestId);
  if (row.error) field("error", c.red(printable(`${row.error.code}: ${row.error.message}`)));
  if (row.predictions.length) {
    out.print("");
    for (const line of barLines(row.predictions, outputWidth(out, env) ?? 80)) out.print(line);
  }
}
