/** `imgfn status`: what is deployed, what the logs say, and where it drifted from the config. */
import { bucketName, type Config, resourceNames } from "../config.js";
import type { AwsClients } from "./clients.js";
import { deployedBucket, desiredState } from "./desired.js";
import { describeRepository } from "./ecr.js";
import { canonical, getInlinePolicy, getRole } from "./iam.js";
import { configurationChanges, currentImage, digestOf, eventInvokeChanges, getEventInvokeConfig, getFunction, policyStatements } from "./lambda.js";
import { type FunctionUrlView, functionUrlDrift, getFunctionUrl, viewOf } from "./function-url.js";
import { describeLogGroup, type InvocationSummary, summarizeInvocations } from "./logs.js";
import { desiredRules, getNotifications, isOwnRule, type RuleView, ruleViews, sameRules } from "./s3.js";
import { countFailedEvents } from "./sqs.js";
import { callerIdentity } from "./sts.js";

export interface StatusReport {
  account: string;
  region: string;
  bucket: string;
  deployed: boolean;
  function?: {
    name: string;
    arn?: string;
    image?: string;
    digest?: string;
    architecture?: string;
    memory?: number;
    timeout?: number;
    state?: string;
    lastUpdateStatus?: string;
    lastModified?: string;
    reservedConcurrency?: number;
  };
  trigger: { ours: RuleView[]; foreign: number };
  permission: boolean;
  /** The Function URL, when one is configured. */
  functionUrl?: FunctionUrlView;
  role?: { name: string; arn?: string };
  repository?: { name: string; uri?: string };
  logs: InvocationSummary & { retentionDays?: number; since: number };
  /** Events waiting in the failure queue (undefined: no queue). */
  failedEvents?: number;
  failureQueue: string;
  drift: string[];
}

export async function status(clients: AwsClients, config: Config, opts: { since?: number; bucket?: string } = {}): Promise<StatusReport> {
  const names = resourceNames(config);
  const identity = await callerIdentity(clients.sts);
  const { account } = identity;
  const region = clients.region;
  const since = opts.since ?? Date.now() - 24 * 3600_000;
  const fn = await getFunction(clients.lambda, names.functionName);
  // where the function was deployed to (--bucket, else its record), so rules there are found
  const configured = bucketName(config, account, region);
  const recorded = deployedBucket(fn);
  const bucket = opts.bucket ?? recorded ?? configured;
  const want = desiredState(config, { identity, region, bucket, endpointUrl: clients.options.endpointUrl });

  const [role, repo, notifications, statements, group, summary, failedEvents, events, url] = await Promise.all([
    getRole(clients.iam, names.roleName),
    describeRepository(clients.ecr, names.repositoryName),
    getNotifications(clients.s3, bucket),
    policyStatements(clients.lambda, names.functionName),
    describeLogGroup(clients.logs, names.logGroupName),
    summarizeInvocations(clients.logs, names.logGroupName, since),
    countFailedEvents(clients.sqs, names.failureQueueName),
    fn ? getEventInvokeConfig(clients.lambda, names.functionName) : undefined,
    getFunctionUrl(clients.lambda, names.functionName),
  ]);
  const rules = ruleViews(notifications);
  const ours = rules.filter((r) => isOwnRule(r, names.notificationIdPrefix, names.functionName));
  const drift: string[] = [];
  const cfg = fn?.Configuration;
  if (fn && cfg) {
    const desired = {
      functionName: names.functionName,
      roleArn: role?.Arn ?? cfg.Role ?? "",
      architecture: config.architecture,
      memory: config.memory,
      timeout: config.timeout,
      environment: want.environment,
      tags: names.tags,
    };
    if (!opts.bucket && recorded && config.bucket && recorded !== config.bucket) drift.push(`deployed to bucket ${recorded}, but the config names ${config.bucket}`);
    drift.push(...configurationChanges(cfg, desired).map((c) => `function ${c}`));
    drift.push(...eventInvokeChanges(events, want.eventInvoke).map((c) => `async invocations: ${c}`));
    if (failedEvents === undefined) drift.push(`failure queue ${names.failureQueueName} is missing (failed events are dropped)`);
    const arch = cfg.Architectures?.[0] ?? "x86_64";
    if (arch !== config.architecture) drift.push(`function architecture ${arch} → ${config.architecture}`);
    const reserved = fn.Concurrency?.ReservedConcurrentExecutions;
    if (reserved !== config.reservedConcurrency) drift.push(`reserved concurrency ${reserved ?? "none"} → ${config.reservedConcurrency ?? "none"}`);
    const wantedRules = ruleViews({ LambdaFunctionConfigurations: desiredRules({ bucket, idPrefix: names.notificationIdPrefix, functionArn: cfg.FunctionArn!, prefix: config.inputPrefix, suffixes: config.suffixes }) });
    if (ours.length === 0) drift.push("trigger: no imgfn rules on the bucket (uploads do not invoke the function)");
    else if (!sameRules(ours, wantedRules)) drift.push("trigger rules differ from the config's prefix/suffixes");
    if (!statements.some((s) => s.Sid === names.permissionStatementId)) drift.push("invoke permission for S3 is missing");
    drift.push(...functionUrlDrift(url, config.http, statements, names.functionName));
  }
  if (role) {
    const policy = await getInlinePolicy(clients.iam, names.roleName, names.policyName);
    if (canonical(policy) !== canonical(want.policy)) drift.push("role permissions differ from the config's bucket/prefixes");
  }
  if (group && group.retentionInDays !== config.logRetentionDays) drift.push(`log retention ${group.retentionInDays ?? "never expire"} → ${config.logRetentionDays} days`);

  const image = fn ? currentImage(fn) : undefined;
  return {
    account,
    region,
    bucket,
    deployed: Boolean(fn),
    function: cfg
      ? {
          name: names.functionName,
          arn: cfg.FunctionArn,
          image,
          digest: digestOf(image),
          architecture: cfg.Architectures?.[0],
          memory: cfg.MemorySize,
          timeout: cfg.Timeout,
          state: cfg.State,
          lastUpdateStatus: cfg.LastUpdateStatus,
          lastModified: cfg.LastModified,
          reservedConcurrency: fn?.Concurrency?.ReservedConcurrentExecutions,
        }
      : undefined,
    trigger: { ours, foreign: rules.length - ours.length },
    permission: statements.some((s) => s.Sid === names.permissionStatementId),
    functionUrl: url ? viewOf(url) : undefined,
    role: role ? { name: names.roleName, arn: role.Arn } : undefined,
    repository: repo ? { name: names.repositoryName, uri: repo.repositoryUri } : undefined,
    logs: { ...summary, retentionDays: group?.retentionInDays, since },
    failedEvents,
    failureQueue: names.failureQueueName,
    drift,
  };
}
