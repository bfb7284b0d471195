import { loadConfig } from "../config.js";
import { failedEventJson, type FailedEvent } from "../pipeline/failures.js";
import { resolveTarget } from "../target.js";
import type { Output } from "../ui/output.js";
import { defineCommand } from "./command.js";
import { truncate } from "../ui/width.js";

export const failedCommand = defineCommand({
  examples: ["failed", "failed --local", "failed --json"],
  options: (cmd) => {
    cmd.option("--local", "the local failed store (.imgfn/local/failed) instead of the SQS failure queue", false);
  },
  async run(ctx, opts) {
    const config = loadConfig(ctx.cwd, { region: ctx.globals.region }, ctx.globals.config);
    const target = await resolveTarget(ctx, config, { local: opts.local });
    const entries = await target.failures.list();
    // reading an SQS message hides it for a while: give them back, so a retry right after sees them
    await target.failures.release(entries);
    ctx.out.result({ source: target.failures.description, count: entries.length, events: entries.map(failedEventJson) });
    printFailed(ctx.out, entries, target.failures.description, opts.local);
  },
});

export function printFailed(out: Output, entries: FailedEvent[], source: string, local: boolean): void {
  const { c } = out;
  if (entries.length === 0) {
    out.print(`no failed events in ${source}`);
    return;
  }
  const rows = [[c.dim("key"), c.dim("error"), c.dim("attempts"), c.dim("last failure")]];
  for (const e of entries) {
    const key = e.keys.length > 1 ? `${e.keys[0]} (+${e.keys.length - 1} more)` : (e.keys[0] ?? c.dim("(no S3 record)"));
    rows.push([key, c.red(`${e.errorType}: ${truncate(e.errorMessage, 100)}`), String(e.attempts), e.lastFailure]);
  }
  out.print(out.table(rows, { shrink: [0, 1] }));
  out.info(c.dim(out.runnable(`${entries.length} failed event${entries.length > 1 ? "s" : ""} in ${source}; replay with "imgfn retry --all${local ? " --local" : ""}" or "imgfn retry --key <key>${local ? " --local" : ""}"`)));
}

