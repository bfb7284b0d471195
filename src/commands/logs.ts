import { loadConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import { resolveTarget } from "../target.js";
import { renderLogEvent } from "../ui/logs.js";
import { defineCommand } from "./command.js";

export const logsCommand = defineCommand({
  options: (cmd) => {
    cmd.option("--local", "read the local stack's logs (.imgfn/local/logs) instead of CloudWatch", false);
    cmd.option("-f, --follow", "keep printing new events until Ctrl-C", false);
    cmd.option("--since <when>", "start this long ago (30s, 10m, 2h, 1d) or at an ISO time", "10m");
    cmd.option("--filter <text>", "only events whose message contains this text (case-sensitive)");
  },
  async run(ctx, opts) {
    const since = parseSince(opts.since);
    const config = loadConfig(ctx.cwd, { region: ctx.globals.region }, ctx.globals.config);
    const target = await resolveTarget(ctx, config, { local: opts.local });
    const c = ctx.out.c;
    let count = 0;
    for await (const event of target.logs.events({ since, filter: opts.filter, follow: opts.follow, signal: ctx.signal })) {
      count++;
      // --json: the raw events, one JSON document per line (a stream, so not one array)
      if (ctx.out.json) ctx.out.stdout.write(JSON.stringify(event) + "\n");
      else ctx.out.print(renderLogEvent(event, c));
    }
    if (count === 0 && !opts.follow) ctx.out.info(`no log events since ${new Date(since).toISOString()}${opts.filter ? ` matching "${opts.filter}"` : ""} (${target.description})`);
  },
});

/** "10m" → epoch ms ten minutes ago; an ISO date is taken as is. */
export function parseSince(value: string, now = Date.now()): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/.exec(value.trim());
  if (m) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as "ms"];
    return now - Number(m[1]) * unit;
  }
  // Date.parse reads "10" as October 2001 and "2024" as a year: a bare number is a duration
  // without its unit, so it is refused rather than guessed
  const t = /^\s*\d+(\.\d+)?\s*$/.test(value) ? NaN : Date.parse(value);
  if (Number.isNaN(t)) throw new ConfigError(`--since must be a duration like 30s, 10m, 2h, 1d or an ISO time (got "${value}")`);
  return t;
}
