import { createClients } from "../aws/clients.js";
import { withAwsErrors } from "../aws/errors.js";
import { status } from "../aws/status.js";
import { loadConfig } from "../config.js";
import { formatSpan, parseSince } from "../duration.js";
import { formatMs } from "../ui/output.js";
import { defineCommand } from "./command.js";

export const statusCommand = defineCommand({
  examples: ["status", "status --since 2h", "status --since 7d --json", "status --region eu-west-1 --profile prod"],
  options: (cmd) => {
    cmd
      .option("--since <when>", "summarise invocations since this long ago (30m, 2h, 1d) or an ISO time", "24h")
      .option("--bucket <name>", "the bucket to look for the trigger in (default: the one the function was deployed to)");
  },
  async run(ctx, opts) {
    const config = loadConfig(ctx.cwd, { region: ctx.globals.region }, ctx.globals.config);
    const since = parseSince(opts.since);
    const report = await withAwsErrors(async () => status(await createClients(ctx.globals, config, { env: ctx.env }), config, { bucket: opts.bucket, since }), ctx.globals);
    ctx.out.result(report);
    const { c } = ctx.out;
    if (!report.deployed) {
      ctx.out.print(`${c.bold(`imgfn-${config.app}`)} is not deployed in ${report.region} (account ${report.account}). Run: ${ctx.out.cmd("deploy")}`);
      return;
    }
    const f = report.function!;
    const l = report.logs;
    const rows = [
      ["function", `${f.name}  ${f.state ?? "?"}${f.lastUpdateStatus && f.lastUpdateStatus !== "Successful" ? ` (update ${f.lastUpdateStatus})` : ""}`],
      ["image", `${f.digest ?? f.image ?? "?"}`],
      ["settings", `${f.architecture}, ${f.memory} MB, ${f.timeout} s${f.reservedConcurrency !== undefined ? `, reserved concurrency ${f.reservedConcurrency}` : ""}`],
      ["updated", f.lastModified ?? "?"],
      ["trigger", report.trigger.ours.length ? `s3://${report.bucket}/${report.trigger.ours[0].prefix}* ${report.trigger.ours.map((r) => r.suffix || "(any)").join(" ")}${report.trigger.foreign ? c.dim(`  (+${report.trigger.foreign} rules not imgfn's)`) : ""}` : c.yellow("none")],
      ["permission", report.permission ? "s3.amazonaws.com may invoke" : c.yellow("missing")],
      ["function URL", report.functionUrl ? `${report.functionUrl.url}  (auth ${report.functionUrl.auth}${report.functionUrl.cors ? `, CORS ${report.functionUrl.cors.AllowOrigins?.join(" ")}` : ""})` : config.http ? c.yellow("missing") : c.dim("none (imgfn deploy --http)")],
      ["role", report.role?.arn ?? c.yellow("missing")],
      ["repository", report.repository?.uri ?? c.yellow("missing")],
      [
        "invocations",
        l.logGroupExists
          ? `${l.invocations} in the last ${formatSpan(Date.now() - l.since)}${l.invocations ? `, avg ${formatMs(l.averageDuration ?? 0)}, ${l.coldStarts} cold` : ""}${l.lastInvocation ? `, last ${new Date(l.lastInvocation).toISOString()}` : ""}`
          : "none yet (no log group)",
      ],
      ["errors", l.errors ? c.red(`${l.errors}${l.lastError ? ` — last: ${l.lastError}` : ""}`) : "0"],
      [
        "failed events",
        report.failedEvents === undefined
          ? c.yellow(`no failure queue (${report.failureQueue})`)
          : report.failedEvents
            ? c.yellow(`${report.failedEvents} waiting in ${report.failureQueue} (imgfn failed lists them, imgfn retry replays them)`)
            : `0 waiting in ${report.failureQueue}`,
      ],
    ];
    ctx.out.print(ctx.out.table(rows, { shrink: [1] }));
    if (report.drift.length) {
      ctx.out.print(c.yellow(`\nDrift from the config (${ctx.out.cmd("deploy")} fixes it):`));
      for (const d of report.drift) ctx.out.print(`  ~ ${d}`);
    } else ctx.out.print(c.dim("\nNo drift: the deployment matches the config."));
  },
});
