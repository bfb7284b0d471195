/** `imgfn status`: what is deployed, what the logs say, and where it drifted from the config. */
import { bucketName, type Config, functionEnvironment, resourceNames } from "../config.js";
import type { AwsClients } from "./clients.js";
import { describeRepository } from "./ecr.js";
import { canonical, getInlinePolicy, getRole, rolePolicy } from "./iam.js";
import { configurationChanges, currentImage, digestOf, getFunction, policyStatements } from "./lambda.js";
import { type FunctionUrlView, functionUrlDrift, getFunctionUrl, viewOf } from "./function-url.js";
import { describeLogGroup, type InvocationSummary, summarizeInvocations } from "./logs.js";
import { desiredRules, getNotifications, isOwnRule, type RuleView, ruleViews, sameRules } from "./s3.js";
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
  drift: string[];
}

export async function status(clients: AwsClients, config: Config, opts: { since?: number } = {}): Promise<StatusReport> {
  const names = resourceNames(config);
  const { account, partition } = await callerIdentity(clients.sts);
  const region = clients.region;
  const bucket = bucketName(config, account, region);
  const since = opts.since ?? Date.now() - 24 * 3600_000;

  const [fn, role, repo, notifications, statements, group, summary, url] = await Promise.all([
    getFunction(clients.lambda, names.functionName),
    getRole(clients.iam, names.roleName),
    describeRepository(clients.ecr, names.repositoryName),
    getNotifications(clients.s3, bucket),
    policyStatements(clients.lambda, names.functionName),
    describeLogGroup(clients.logs, names.logGroupName),
    summarizeInvocations(clients.logs, names.logGroupName, since),
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
      environment: functionEnvironment(config, { endpointUrl: clients.options.endpointUrl }),
      tags: names.tags,
    };
    drift.push(...configurationChanges(cfg, desired).map((c) => `function ${c}`));
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
    const wanted = rolePolicy({ partition, region, account, bucket, inputPrefix: config.inputPrefix, outputPrefix: config.outputPrefix, logGroupName: names.logGroupName });
    if (canonical(policy) !== canonical(wanted)) drift.push("role permissions differ from the config's bucket/prefixes");
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
    drift,
  };
}
