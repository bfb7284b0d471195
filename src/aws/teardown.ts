/**
 * `imgfn teardown`: removes exactly what imgfn created, in a safe order — stop the events first
 * (trigger rules, permission), then the function and its logs, then the role and the repository.
 * The bucket only on request, only if imgfn made it (or --force), never silently with objects;
 * the failure queue only when empty (or --force): its messages are events that were never processed.
 */
import type { Context } from "../commands/command.js";
import { bucketName, type Config, resourceNames } from "../config.js";
import { UserError } from "../errors.js";
import type { AwsClients } from "./clients.js";
import { deleteRepository } from "./ecr.js";
import { deleteRole } from "./iam.js";
import { deleteFunctionUrl } from "./function-url.js";
import { deployedBucket } from "./desired.js";
import { deleteFunction, getFunction, ownedBy, removeInvokePermission } from "./lambda.js";
import { deleteLogGroup } from "./logs.js";
import { type Action, describeOutcome, type Outcome, outcome } from "./outcome.js";
import { countObjects, deleteBucket, inspectBucket, removeTrigger } from "./s3.js";
import { realSleep, type Sleep } from "./retry.js";
import { deleteFailureQueue, FailedEventsError } from "./sqs.js";
import { callerIdentity } from "./sts.js";

export interface TeardownOptions {
  /** --bucket: where the trigger rules are (default: the bucket the function records, else the config's). */
  bucket?: string;
  keepLogs?: boolean;
  deleteBucket?: boolean;
  force?: boolean;
  dryRun?: boolean;
}

export interface TeardownDeps {
  clients: AwsClients;
  /** Asks the user; only called when --yes was not given and stdin is a TTY. */
  confirm: (question: string) => Promise<boolean>;
  stdinIsTTY: boolean;
  /** Backoff sleep (tests: instant). */
  sleep?: Sleep;
}

export interface TeardownItem {
  step: string;
  resource: string;
  action: Action;
  changes: string[];
}

export interface TeardownReport {
  region: string;
  account: string;
  bucket: string;
  items: TeardownItem[];
  nothingToDo: boolean;
  dryRun: boolean;
}

interface Task {
  step: string;
  title: string;
  resource: string;
  run: (dryRun: boolean) => Promise<Outcome>;
}

export async function teardown(ctx: Context, config: Config, opts: TeardownOptions, deps: TeardownDeps): Promise<TeardownReport> {
  const { clients } = deps;
  const names = resourceNames(config);
  const { account } = await callerIdentity(clients.sts);
  const region = clients.region;
  const bucket = opts.bucket ?? deployedBucket(await getFunction(clients.lambda, names.functionName)) ?? bucketName(config, account, region);

  const tasks: Task[] = [
    { step: "trigger", title: "Trigger rules", resource: `s3://${bucket}`, run: (dryRun) => removeTrigger(clients.s3, bucket, names.notificationIdPrefix, names.functionName, { dryRun, waiter: { sleep: deps.sleep ?? realSleep, signal: ctx.signal } }) },
    { step: "permission", title: "Invoke permission", resource: names.permissionStatementId, run: (dryRun) => removeInvokePermission(clients.lambda, names.functionName, names.permissionStatementId, names.tags, { dryRun }) },
    {
      step: "function-url",
      title: "Function URL",
      resource: names.functionName,
      run: async (dryRun) => {
        const fn = await getFunction(clients.lambda, names.functionName);
        if (!fn) return outcome("absent");
        if (!ownedBy(fn, names.tags)) return outcome("skip", [`function ${names.functionName} is not tagged as imgfn's; its URL is left alone`]);
        return deleteFunctionUrl(clients.lambda, names.functionName, { sleep: deps.sleep ?? realSleep, signal: ctx.signal }, { dryRun });
      },
    },
    { step: "function", title: "Function", resource: names.functionName, run: (dryRun) => deleteFunction(clients.lambda, names.functionName, names.tags, { dryRun }) },
    {
      step: "log-group",
      title: "Log group",
      resource: names.logGroupName,
      run: async (dryRun) => (opts.keepLogs ? outcome("skip", ["--keep-logs"]) : deleteLogGroup(clients.logs, names.logGroupName, names.tags, { dryRun })),
    },
    // after the function: nothing sends to it any more. With failed events inside, the plan below refuses unless --force.
    { step: "failure-queue", title: "Failure queue", resource: names.failureQueueName, run: (dryRun) => deleteFailureQueue(clients.sqs, names.failureQueueName, names.tags, { dryRun, force: opts.force }) },
    { step: "role", title: "Role", resource: names.roleName, run: (dryRun) => deleteRole(clients.iam, names.roleName, names.policyName, names.tags, { dryRun }) },
    { step: "repository", title: "Image repository", resource: names.repositoryName, run: (dryRun) => deleteRepository(clients.ecr, names.repositoryName, names.tags, { dryRun }) },
  ];

  // The bucket: decided before anything is deleted, so a refusal leaves everything in place.
  let bucketObjects = 0;
  if (opts.deleteBucket) {
    const state = await inspectBucket(clients.s3, bucket, region);
    if (state.exists) {
      if (!state.createdByImgfn && !opts.force) {
        throw new UserError(`bucket ${bucket} was not created by imgfn; teardown leaves it alone`, { hint: "add --force to delete it anyway, or drop --delete-bucket" });
      }
      const { count, more } = await countObjects(clients.s3, bucket);
      bucketObjects = count;
      if (count > 0 && !opts.force) {
        throw new UserError(`bucket ${bucket} still holds ${count}${more ? "+" : ""} object${count === 1 ? "" : "s"}; teardown does not delete data silently`, {
          hint: `empty it first (aws s3 rm s3://${bucket} --recursive), or add --force to delete the objects with the bucket`,
        });
      }
      tasks.push({
        step: "bucket",
        title: "Bucket",
        resource: bucket,
        run: async (dryRun) => {
          if (dryRun) return outcome("delete", count ? [`and its ${count}${more ? "+" : ""} object${count === 1 ? "" : "s"}`] : []);
          const deleted = await deleteBucket(clients.s3, bucket);
          return outcome("delete", deleted ? [`and ${deleted} object${deleted === 1 ? "" : "s"}`] : []);
        },
      });
    } else {
      tasks.push({ step: "bucket", title: "Bucket", resource: bucket, run: async () => outcome("absent") });
    }
  }

  // Plan with read-only calls first: it drives the confirmation and the "nothing to do" answer.
  const planned: TeardownItem[] = [];
  for (const t of tasks) {
    const o = await t.run(true).catch((err) => {
      // --dry-run lists the whole plan, saying where the real teardown would stop
      if (opts.dryRun && err instanceof FailedEventsError) return outcome("skip", [`holds ${err.count} failed event${err.count === 1 ? "" : "s"}: teardown stops before deleting anything unless --force`]);
      throw err;
    });
    planned.push({ step: t.step, resource: t.resource, action: o.action, changes: o.changes });
  }
  const toDelete = planned.filter((p) => p.action === "delete");
  const report: TeardownReport = { region, account, bucket, items: planned, nothingToDo: toDelete.length === 0, dryRun: Boolean(opts.dryRun) };
  if (report.nothingToDo || opts.dryRun) return report;

  if (!ctx.globals.yes) {
    if (!deps.stdinIsTTY) throw new UserError("teardown deletes resources and needs confirmation, but stdin is not a terminal", { hint: "run again with --yes", exitCode: 2 });
    const list = toDelete.map((p) => `  - ${p.step} ${p.resource}${p.changes.length ? ` (${p.changes.join("; ")})` : ""}`).join("\n");
    ctx.out.info(`This deletes from account ${account}, ${region}:\n${list}${bucketObjects ? `\nincluding ${bucketObjects} object(s) in s3://${bucket}` : ""}`);
    if (!(await deps.confirm("Delete these resources?"))) throw new UserError("teardown cancelled; nothing was deleted", { exitCode: 1 });
  }

  const done: TeardownItem[] = [];
  for (const t of tasks) {
    const o = await ctx.out.step(t.title, async (s) => {
      const r = await t.run(false);
      s.done(`${t.resource}: ${describeOutcome(r)}`);
      return r;
    });
    done.push({ step: t.step, resource: t.resource, action: o.action, changes: o.changes });
  }
  return { ...report, items: done };
}
