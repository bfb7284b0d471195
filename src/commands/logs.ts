import { loadConfig } from "../config.js";
import { parseSince } from "../duration.js";
import { resolveTarget, type LogEvent } from "../target.js";
import { renderLogEvent, requestIdOf } from "../ui/logs.js";
import { defineCommand } from "./command.js";

export { parseSince } from "../duration.js";

export const logsCommand = defineCommand({
  examples: ["logs --local --follow", "logs --since 2h --filter ERROR", "logs --group --since 1d", "logs --local --json | jq '.[].message'"],
  options: (cmd) => {
    cmd.option("--local", "read the local stack's logs (.imgfn/local/logs) instead of CloudWatch", false);
    cmd.option("-f, --follow", "keep printing new events until Ctrl-C (--json: one JSON object per line)", false);
    cmd.option("-t, --tail", "the same as --follow (wrangler's and SAM's word)", false);
    cmd.option("--since <when>", "start this long ago (30s, 10m, 2h, 1d) or at an ISO time", "10m");
    cmd.option("--filter <text>", "only events whose message contains this text (case-sensitive)");
    cmd.option("--group", "group the lines by request (a group prints when its REPORT line arrives)", false);
    cmd.addHelpText("after", "\n--json prints one JSON array of events; with --follow, one event per line (NDJSON), as they arrive.");
  },
  async run(ctx, opts) {
    const since = parseSince(opts.since);
    const follow = Boolean(opts.follow || opts.tail);
    const config = loadConfig(ctx.cwd, { region: ctx.globals.region }, ctx.globals.config);
    const target = await resolveTarget(ctx, config, { local: opts.local });
    const { out } = ctx;
    const c = out.c;
    const collected: LogEvent[] = [];
    const groups = new Map<string, LogEvent[]>();
    const print = (events: LogEvent[]) => {
      if (opts.group && events.length) {
        const id = requestIdOf(events[0].message);
        if (id) out.print(c.bold(`── request ${id}`));
      }
      for (const e of events) out.print(renderLogEvent(e, c));
    };
    const show = (event: LogEvent) => {
      if (out.json) {
        if (follow) out.stdout.write(JSON.stringify(event) + "\n");
        else collected.push(event);
        return;
      }
      if (!opts.group) return print([event]);
      const id = requestIdOf(event.message);
      if (!id) return print([event]);
      const group = groups.get(id) ?? [];
      group.push(event);
      groups.set(id, group);
      // a request is complete at its REPORT line; following, print it then
      if (follow && /^REPORT RequestId:/.test(event.message)) {
        groups.delete(id);
        print(group);
      }
    };
    let count = 0;
    let caughtUp = false;
    const events = target.logs.events({ since, filter: opts.filter, follow, signal: ctx.signal });
    const waiting = () => {
      if (!caughtUp && follow && !out.json) out.info(c.dim(`waiting for new log events from ${target.description} (Ctrl-C to stop)…`));
      caughtUp = true;
    };
    // the history arrives at once; when nothing new comes for a moment, say that we are waiting
    let idle: NodeJS.Timeout | undefined = follow ? setTimeout(waiting, 1000) : undefined;
    try {
      for await (const event of events) {
        count++;
        show(event);
        if (idle) {
          clearTimeout(idle);
          idle = caughtUp ? undefined : setTimeout(waiting, 1000);
        }
      }
    } finally {
      if (idle) clearTimeout(idle);
    }
    for (const group of groups.values()) print(group); // requests still running, or the history's
    if (out.json && !follow) out.result(collected);
    if (count === 0 && !follow) out.info(`no log events since ${new Date(since).toISOString()}${opts.filter ? ` matching "${opts.filter}"` : ""} (${target.description})`);
  },
});
