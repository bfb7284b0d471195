import { createClients } from "../aws/clients.js";
import { withAwsErrors } from "../aws/errors.js";
import { awsRuntime } from "../aws/runtime.js";
import { teardown } from "../aws/teardown.js";
import { loadConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import { defineCommand } from "./command.js";

export const teardownCommand = defineCommand({
  examples: ["teardown --dry-run", "teardown", "teardown --yes --keep-logs", "teardown --delete-bucket --yes --region eu-west-1"],
  globals: ["json", "yes", "region", "profile", "endpoint-url", "config"],
  options: (cmd) => {
    cmd
      .option("--keep-logs", "keep the function's log group")
      .option("--delete-bucket", "also delete the bucket (only one imgfn created, unless --force)")
      .option("--bucket <name>", "the bucket whose trigger rules to remove (default: the one the function was deployed to)")
      .option("--force", "delete the failure queue with the failed events in it; with --delete-bucket: a bucket imgfn did not create, and the objects in it")
      .option("--dry-run", "list what would be deleted; delete nothing");
  },
  async run(ctx, opts) {
    const config = loadConfig(ctx.cwd, { region: ctx.globals.region }, ctx.globals.config);
    // without a terminal nobody can answer the confirmation: say so before any AWS call
    if (!opts.dryRun && !ctx.globals.yes && !awsRuntime.stdinIsTTY()) {
      throw new ConfigError("teardown deletes resources and needs confirmation, but stdin is not a terminal", { hint: "run again with --yes (or --dry-run to see what would go)" });
    }
    const report = await withAwsErrors(
      async () =>
        teardown(ctx, config, { bucket: opts.bucket, keepLogs: opts.keepLogs, deleteBucket: opts.deleteBucket, force: opts.force, dryRun: opts.dryRun }, {
          clients: await createClients(ctx.globals, config, { env: ctx.env }),
          stdinIsTTY: awsRuntime.stdinIsTTY(),
          sleep: awsRuntime.sleep,
          confirm: (q) => awsRuntime.confirm(q, ctx.out.stderr as NodeJS.WritableStream),
        }),
      ctx.globals,
    );
    ctx.out.result(report);
    if (report.nothingToDo) {
      ctx.out.print(`Nothing to tear down: no imgfn resources for app "${config.app}" in ${report.region} (account ${report.account}).`);
      return;
    }
    if (report.dryRun) {
      ctx.out.print(`Would delete (nothing was changed):`);
      ctx.out.print(ctx.out.table(report.items.filter((i) => i.action !== "absent").map((i) => [i.action === "delete" ? "-" : "·", i.step, i.resource, i.changes.join("; ")]), { indent: 2, shrink: [2, 3] }));
      return;
    }
    const deleted = report.items.filter((i) => i.action === "delete").length;
    ctx.out.print(`Removed ${deleted} resource${deleted === 1 ? "" : "s"} of imgfn-${config.app}${opts.deleteBucket ? "" : `; the bucket s3://${report.bucket} stays (add --delete-bucket to remove it)`}.`);
    for (const i of report.items.filter((i) => i.action === "skip")) ctx.out.warn(`${i.step} ${i.resource} left in place: ${i.changes.join("; ")}`);
  },
});
