import { loadConfig } from "../config.js";
import { PartialFailure } from "../errors.js";
import { findPending, invokeEach } from "../pipeline/backfill.js";
import { resolveTarget } from "../target.js";
import { defineCommand } from "./command.js";
import { parsePositive } from "./predict.js";

/** "[██████░░░░░░░░░░░░░░] 12/40" */
export function progressBar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}] ${done}/${total}`;
}

export const backfillCommand = defineCommand({
  examples: ["backfill --dry-run", "backfill", "backfill --local --concurrency 4", "backfill --dry-run --json"],
  options: (cmd) => {
    cmd.option("--local", "the running `imgfn dev` stack instead of AWS", false);
    cmd.option("--dry-run", "only count the objects that have no current result", false);
    cmd.option("--concurrency <n>", "invocations (and result checks) in flight at once", (v) => parsePositive(v, "--concurrency"), 8);
  },
  async run(ctx, opts) {
    const config = loadConfig(ctx.cwd, { region: ctx.globals.region }, ctx.globals.config);
    const target = await resolveTarget(ctx, config, { local: opts.local });
    const s3 = target.s3; // a local target without a running stack says so here, before any output
    const rules = target.config;
    const where = `s3://${target.bucket}/${rules.inputPrefix}`;
    const scan = await ctx.out.step(`Listing ${where} for objects with no current result (${target.description})`, async (s) => {
      const found = await findPending(s3, target.bucket, rules, { concurrency: opts.concurrency, signal: ctx.signal, onPage: (p) => s.update(`${p.listed} listed, ${p.pending.length} to process`) });
      s.done(`${found.listed} object${found.listed === 1 ? "" : "s"}, ${found.current} with a current result, ${found.pending.length} to process`);
      return found;
    });
    const noResult = scan.pending.filter((p) => p.why === "no result").length;
    const stale = scan.pending.length - noResult;
    const summary = { bucket: target.bucket, prefix: rules.inputPrefix, listed: scan.listed, current: scan.current, pending: scan.pending.length, noResult, staleResult: stale, dryRun: Boolean(opts.dryRun) };
    if (opts.dryRun || scan.pending.length === 0) {
      ctx.out.result({ ...summary, invoked: 0, refused: [], keys: scan.pending.map((p) => p.key) });
      ctx.out.print(scan.pending.length === 0 ? `nothing to do: every object under ${where} has a current result` : `${scan.pending.length} object${scan.pending.length === 1 ? "" : "s"} would be processed (${noResult} with no result, ${stale} with a result for another ETag); run without --dry-run to invoke the function for them`);
      return;
    }
    const invoked = await ctx.out.step(`Invoking the function for ${scan.pending.length} object${scan.pending.length === 1 ? "" : "s"}`, async (s) => {
      s.update(progressBar(0, scan.pending.length));
      const r = await invokeEach(target.bucket, scan.pending, (e) => target.invokeAsync(e), { region: target.region, concurrency: opts.concurrency, signal: ctx.signal, onDone: (n) => s.update(progressBar(n, scan.pending.length)) });
      s.done(`${r.invoked} accepted${r.refused.length ? `, ${r.refused.length} refused` : ""}`);
      return r;
    });
    ctx.out.result({ ...summary, invoked: invoked.invoked, refused: invoked.refused });
    ctx.out.print(`${invoked.invoked} of ${scan.pending.length} object${scan.pending.length === 1 ? "" : "s"} handed to the function (${noResult} with no result, ${stale} with a stale one); results appear under ${rules.outputPrefix} as they finish`);
    ctx.out.info(ctx.out.c.dim(ctx.out.runnable(`follow them with "imgfn logs${opts.local ? " --local" : ""} --follow"; events that fail every attempt show in "imgfn failed${opts.local ? " --local" : ""}"`)));
    for (const r of invoked.refused) ctx.out.error(`${r.key}: ${r.error}`);
    if (invoked.refused.length) throw new PartialFailure(`${invoked.refused.length} of ${scan.pending.length} invocations were refused`);
  },
});
