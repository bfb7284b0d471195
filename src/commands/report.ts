import { spawn } from "node:child_process";
import { stat, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { loadConfig } from "../config.js";
import { UserError } from "../errors.js";
import { loadResults } from "../results/read.js";
import { buildReport } from "../results/report.js";
import { explainBucketError, resolveTarget } from "../target.js";
import { formatBytes } from "../ui/output.js";
import { defineCommand } from "./command.js";
import { parseSince } from "./logs.js";
import { parsePositive } from "./predict.js";

/** The platform's "open this file" program; the report opens in the default browser. */
function openCommand(): string[] {
  if (process.platform === "darwin") return ["open"];
  if (process.platform === "win32") return ["cmd", "/c", "start", '""'];
  return ["xdg-open"];
}

export const reportCommand = defineCommand({
  examples: ["report --local --open", "report --since 1d --output today.html", "report --prefix results/batch-1/ --limit 200"],
  options: (cmd) => {
    cmd.option("--local", "report on the local stack's results (imgfn dev) instead of AWS", false);
    cmd.option("-o, --output <file>", "where to write the HTML file", "report.html");
    cmd.option("--open", "open the report in the default browser when it is written", false);
    cmd.option("--prefix <prefix>", "only results under this key prefix (default: the configured output prefix)");
    cmd.option("--since <when>", "only results written since then (30s, 10m, 2h, 1d or an ISO time)");
    cmd.option("--limit <n>", "at most this many results, newest first", (v) => parsePositive(v, "--limit"), 1000);
    cmd.option("--concurrency <n>", "thumbnails made at once", (v) => parsePositive(v, "--concurrency"), 4);
  },
  async run(ctx, opts) {
    const since = opts.since !== undefined ? parseSince(opts.since) : undefined;
    const config = loadConfig(ctx.cwd, { region: ctx.globals.region }, ctx.globals.config);
    const target = await resolveTarget(ctx, config, { local: opts.local });
    const prefix = opts.prefix ?? target.config.outputPrefix;
    const output = resolve(ctx.cwd, opts.output);
    // before any reading: a report that cannot be written is not worth making
    const folder = await stat(dirname(output)).catch(() => undefined);
    if (!folder?.isDirectory()) throw new UserError(`cannot write ${output}: the folder ${dirname(output)} does not exist`, { hint: `create it, or pick another --output` });
    const { rows, listed } = await ctx.out.step(`Reading results under s3://${target.bucket}/${prefix} (${target.description})`, async (s) => {
      const found = await loadResults(target.s3, target.bucket, { prefix, since, limit: opts.limit, signal: ctx.signal }).catch((err) => explainBucketError(err, target));
      s.done(`${found.rows.length}${found.rows.length < found.listed ? ` newest of ${found.listed}` : ""}`);
      return found;
    });
    const report = await ctx.out.step(`Making ${rows.length} thumbnail${rows.length === 1 ? "" : "s"} and the summary`, async (s) => {
      const r = await buildReport({
        s3: target.s3,
        bucket: target.bucket,
        logs: target.logs,
        rows,
        source: `s3://${target.bucket}/${prefix} (${target.description})`,
        architecture: config.architecture,
        maxBytes: config.maxBytes,
        concurrency: opts.concurrency,
        signal: ctx.signal,
        onProgress: (done, total) => s.update(`${done}/${total}`),
      });
      s.done(`${r.thumbnails} thumbnails, ${r.data.summary.reports} REPORT lines`);
      return r;
    });
    if (rows.length === 0) ctx.out.warn(`no results under s3://${target.bucket}/${prefix}${since !== undefined ? ` since ${new Date(since).toISOString()}` : ""}; the report is empty (${target.description})`);
    await writeFile(output, report.html);
    const bytes = Buffer.byteLength(report.html);
    const { summary } = report.data;
    ctx.out.result({ output, bytes, results: rows.length, listed, thumbnails: report.thumbnails, summary });
    ctx.out.print(`${output}  ${formatBytes(bytes)}, ${rows.length} result${rows.length === 1 ? "" : "s"} (${Object.entries(summary.byStatus).map(([k, v]) => `${v} ${k}`).join(", ") || "none"})`);
    if (summary.cost) ctx.out.print(`estimated cost per 1000 images: $${summary.cost.per1000Images.toFixed(4)} (${summary.cost.assumption})`);
    if (opts.open) {
      const [cmd, ...args] = openCommand();
      const child = spawn(cmd, [...args, output], { detached: true, stdio: "ignore", env: ctx.env });
      child.on("error", (err) => ctx.out.warn(`could not open the report with ${cmd} (${err.message}); open ${output} in a browser`));
      child.unref();
    }
  },
});
