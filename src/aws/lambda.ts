/**
 * The function, its invoke permission for S3, reserved concurrency and async retries — with the
 * waits Lambda needs: a new role is not assumable for a few seconds, and code and configuration
 * updates must not overlap (State Active, LastUpdateStatus Successful; ResourceConflictException).
 */
import {
  AddPermissionCommand,
  CreateFunctionCommand,
  DeleteFunctionCommand,
  DeleteFunctionConcurrencyCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  GetFunctionEventInvokeConfigCommand,
  GetPolicyCommand,
  PutFunctionConcurrencyCommand,
  PutFunctionEventInvokeConfigCommand,
  RemovePermissionCommand,
  TagResourceCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  type FunctionConfiguration,
  type GetFunctionCommandOutput,
  type LambdaClient,
} from "@aws-sdk/client-lambda";
import type { Architecture } from "../config.js";
import { UserError } from "../errors.js";
import { hasName, tolerating } from "./errors.js";
import { type Outcome, outcome } from "./outcome.js";
import { pollUntil, retryWhile, type Waiter } from "./retry.js";

/** How long a new role may take to become assumable by Lambda (IAM is eventually consistent). */
export const ROLE_PROPAGATION_TIMEOUT = 120_000;
const READY_TIMEOUT = 300_000;

export interface FunctionRequest {
  functionName: string;
  roleArn: string;
  /** repository@sha256:… ; undefined in a plan before the image is built. */
  imageUri?: string;
  architecture: Architecture;
  memory: number;
  timeout: number;
  environment: Record<string, string>;
  tags: Record<string, string>;
  reservedConcurrency?: number;
}

export const digestOf = (uri: string | undefined) => /@(sha256:[0-9a-f]{64})$/.exec(uri ?? "")?.[1];

/**
 * The image the function runs, as repository@digest. imgfn always deploys by digest, so the
 * ImageUri it set says exactly that; ResolvedImageUri is only needed for a function deployed by
 * tag (an emulator may fill it with a made-up digest, which must not count as a change).
 */
export function currentImage(fn: GetFunctionCommandOutput): string | undefined {
  const set = fn.Code?.ImageUri;
  if (digestOf(set)) return set;
  const resolved = fn.Code?.ResolvedImageUri;
  return resolved && digestOf(resolved) ? resolved : set;
}

export async function getFunction(lambda: LambdaClient, name: string): Promise<GetFunctionCommandOutput | undefined> {
  return tolerating(lambda.send(new GetFunctionCommand({ FunctionName: name })), "ResourceNotFoundException");
}

/** Configuration differences (deploy applies them; status reports them as drift). */
export function configurationChanges(actual: FunctionConfiguration, req: FunctionRequest): string[] {
  const changes: string[] = [];
  if (actual.Role !== req.roleArn) changes.push(`role → ${req.roleArn.split("/").pop()}`);
  if (actual.MemorySize !== req.memory) changes.push(`memory ${actual.MemorySize} → ${req.memory} MB`);
  if (actual.Timeout !== req.timeout) changes.push(`timeout ${actual.Timeout} → ${req.timeout} s`);
  const vars = actual.Environment?.Variables ?? {};
  const keys = [...new Set([...Object.keys(vars), ...Object.keys(req.environment)])].sort();
  const envChanged = keys.filter((k) => vars[k] !== req.environment[k]);
  if (envChanged.length) changes.push(`environment ${envChanged.join(", ")}`);
  return changes;
}

export function codeChanges(fn: GetFunctionCommandOutput, req: FunctionRequest): string[] {
  const changes: string[] = [];
  const arch = fn.Configuration?.Architectures?.[0] ?? "x86_64";
  if (arch !== req.architecture) changes.push(`architecture ${arch} → ${req.architecture}`);
  if (req.imageUri) {
    // compare by digest (and repository): a moving tag never counts as "the same image"
    const current = currentImage(fn);
    const sameRepo = current?.split(/[@:]sha256/)[0] === req.imageUri.split("@")[0];
    if (!sameRepo || digestOf(current) !== digestOf(req.imageUri)) changes.push(`image ${short(digestOf(current) ?? current)} → ${short(digestOf(req.imageUri))}`);
  }
  return changes;
}

const short = (digest: string | undefined) => (digest?.startsWith("sha256:") ? digest.slice(0, 19) : (digest ?? "none"));

const ROLE_NOT_READY = /cannot be assumed by Lambda|role defined for the function cannot be assumed/i;
const roleNotReady = (err: unknown) =>
  hasName(err, "InvalidParameterValueException") && ROLE_NOT_READY.test((err as Error).message) ? "waiting for the new role to become usable by Lambda" : undefined;
export const updateInProgress = (err: unknown) => (hasName(err, "ResourceConflictException") && !/already exists/i.test((err as Error).message) ? "waiting for the previous update to finish" : undefined);
const roleOrConflict = (err: unknown) => roleNotReady(err) ?? updateInProgress(err);

/** "reason (ReasonCode)", as much of it as Lambda gave. */
function reasonOf(reason: string | undefined, code: string | undefined): string {
  if (reason && code) return `${reason} (${code})`;
  return reason ?? code ?? "unknown reason";
}

/** Why the function is unusable (State Failed, or its last update Failed), if it is. */
export function failureOf(cfg: FunctionConfiguration): string | undefined {
  if (cfg.State === "Failed") return `creation failed: ${reasonOf(cfg.StateReason, cfg.StateReasonCode)}`;
  if (cfg.LastUpdateStatus === "Failed") return `update failed: ${reasonOf(cfg.LastUpdateStatusReason, cfg.LastUpdateStatusReasonCode)}`;
  return undefined;
}

/**
 * Polls until State is Active and no update is in progress; Failed states are explained. Before
 * an update (`failed: "proceed"`) a Failed function is ready too: the update is what repairs it.
 */
export async function waitForFunctionReady(lambda: LambdaClient, name: string, waiter: Waiter, opts: { failed?: "throw" | "proceed" } = {}): Promise<FunctionConfiguration> {
  return pollUntil<FunctionConfiguration>(
    async () => {
      const cfg = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
      if (cfg.State === "Pending") return { wait: "function is being created (State Pending)" };
      if (cfg.LastUpdateStatus === "InProgress") return { wait: "update in progress" };
      const failure = failureOf(cfg);
      if (failure && opts.failed !== "proceed") {
        throw new UserError(`function ${name}: ${failure}`, { hint: "fix the cause above and run imgfn deploy again" });
      }
      return { value: cfg }; // Active, or Inactive (it wakes up on the next invoke)
    },
    waiter,
    { timeout: READY_TIMEOUT, initialDelay: 1000, maxDelay: 5000, onTimeout: (why) => new UserError(`function ${name} is still not ready (${why})`, { hint: "check it in the Lambda console, then run imgfn deploy again" }) },
  );
}

/** Creates or updates the function so that it matches `req`. */
export async function ensureFunction(lambda: LambdaClient, req: FunctionRequest, waiter: Waiter, opts: { dryRun?: boolean } = {}): Promise<Outcome & { functionArn?: string }> {
  const existing = await getFunction(lambda, req.functionName);
  if (!existing) {
    const changes = [`${req.architecture}, ${req.memory} MB, ${req.timeout} s`, ...(req.reservedConcurrency !== undefined ? [`reserved concurrency ${req.reservedConcurrency}`] : [])];
    if (opts.dryRun) return outcome("create", changes);
    const created = await retryWhile(
      () =>
        lambda.send(
          new CreateFunctionCommand({
            FunctionName: req.functionName,
            PackageType: "Image",
            Code: { ImageUri: req.imageUri },
            Role: req.roleArn,
            Architectures: [req.architecture],
            MemorySize: req.memory,
            Timeout: req.timeout,
            Environment: { Variables: req.environment },
            Description: "imgfn: S3-triggered image classification",
            Tags: req.tags,
          }),
        ),
      roleNotReady,
      waiter,
      { timeout: ROLE_PROPAGATION_TIMEOUT, initialDelay: 2000, maxDelay: 10_000 },
    );
    await waitForFunctionReady(lambda, req.functionName, waiter);
    await ensureConcurrency(lambda, req, undefined);
    return { ...outcome("create", changes), functionArn: created.FunctionArn };
  }
  const cfg = existing.Configuration!;
  const functionArn = cfg.FunctionArn;
  if (req.tags["managed-by"] && existing.Tags?.["managed-by"] !== req.tags["managed-by"]) {
    throw new UserError(`a Lambda function named ${req.functionName} exists but was not created by imgfn`, { hint: `choose another "app" name in imgfn.config.json` });
  }
  const code = codeChanges(existing, req);
  // a failed creation or update is repaired by deploying the image again, even an unchanged one
  const failure = failureOf(cfg);
  if (failure && !code.length && (req.imageUri || opts.dryRun)) code.push(`last ${failure}; deploying the image again`);
  const config = configurationChanges(cfg, req);
  const missingTags = Object.fromEntries(Object.entries(req.tags).filter(([k, v]) => existing.Tags?.[k] !== v));
  const concurrency = existing.Concurrency?.ReservedConcurrentExecutions;
  const concurrencyChange = concurrency !== req.reservedConcurrency ? [`reserved concurrency ${concurrency ?? "none"} → ${req.reservedConcurrency ?? "none"}`] : [];
  const changes = [...code, ...config, ...(Object.keys(missingTags).length ? ["tags"] : []), ...concurrencyChange];
  if (opts.dryRun || changes.length === 0) return { ...outcome(changes.length ? "update" : "unchanged", changes), functionArn };

  await waitForFunctionReady(lambda, req.functionName, waiter, { failed: "proceed" });
  if (code.length) {
    await retryWhile(
      () => lambda.send(new UpdateFunctionCodeCommand({ FunctionName: req.functionName, ImageUri: req.imageUri, Architectures: [req.architecture] })),
      updateInProgress,
      waiter,
      { timeout: READY_TIMEOUT, initialDelay: 1000, maxDelay: 5000 },
    );
    await waitForFunctionReady(lambda, req.functionName, waiter);
  }
  if (config.length) {
    await retryWhile(
      () =>
        lambda.send(
          new UpdateFunctionConfigurationCommand({
            FunctionName: req.functionName,
            Role: req.roleArn,
            MemorySize: req.memory,
            Timeout: req.timeout,
            Environment: { Variables: req.environment },
          }),
        ),
      roleOrConflict,
      waiter,
      { timeout: ROLE_PROPAGATION_TIMEOUT, initialDelay: 1000, maxDelay: 10_000 },
    );
    await waitForFunctionReady(lambda, req.functionName, waiter);
  }
  if (Object.keys(missingTags).length) await lambda.send(new TagResourceCommand({ Resource: functionArn, Tags: missingTags }));
  if (concurrencyChange.length) await ensureConcurrency(lambda, req, concurrency);
  return { ...outcome("update", changes), functionArn };
}

async function ensureConcurrency(lambda: LambdaClient, req: FunctionRequest, current: number | undefined): Promise<void> {
  if (req.reservedConcurrency === current) return;
  if (req.reservedConcurrency === undefined) await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: req.functionName }));
  else {
    try {
      await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: req.functionName, ReservedConcurrentExecutions: req.reservedConcurrency }));
    } catch (err) {
      // "…decreases account's UnreservedConcurrentExecution below its minimum value of [10]" (new accounts have a limit of 10)
      if (hasName(err, "InvalidParameterValueException") && /UnreservedConcurrentExecution/i.test((err as Error).message)) {
        throw new UserError(`cannot reserve ${req.reservedConcurrency} concurrent executions for ${req.functionName}: the account's unreserved pool would drop below Lambda's minimum (${(err as Error).message})`, {
          hint: `lower "reservedConcurrency" in imgfn.config.json (or remove it), or ask for a higher Lambda concurrency quota in Service Quotas`,
          cause: err,
        });
      }
      throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Asynchronous invocations (S3 events): retries, maximum event age, on-failure destination

/** Six hours, Lambda's maximum: an event waiting longer (throttling, an outage) goes to the failure queue. */
export const MAX_EVENT_AGE_SECONDS = 6 * 3600;

export interface EventInvokeRequest {
  functionName: string;
  /** 0..2 (config.retries). */
  retries: number;
  maxEventAgeSeconds: number;
  /** ARN of the failure queue. */
  onFailure: string;
}

export async function getEventInvokeConfig(lambda: LambdaClient, name: string): Promise<{ retries?: number; maxEventAge?: number; onFailure?: string } | undefined> {
  const c = await tolerating(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: name })), "ResourceNotFoundException");
  return c ? { retries: c.MaximumRetryAttempts, maxEventAge: c.MaximumEventAgeInSeconds, onFailure: c.DestinationConfig?.OnFailure?.Destination } : undefined;
}

/** What differs between the function's event-invoke configuration and the wanted one (status reports these as drift). */
export function eventInvokeChanges(current: Awaited<ReturnType<typeof getEventInvokeConfig>>, req: EventInvokeRequest): string[] {
  // without a configuration Lambda retries twice, keeps events 6 hours, and drops failures
  const c = { retries: current?.retries ?? 2, maxEventAge: current?.maxEventAge ?? MAX_EVENT_AGE_SECONDS, onFailure: current?.onFailure };
  const changes: string[] = [];
  if (c.retries !== req.retries) changes.push(`retries ${c.retries} → ${req.retries}`);
  if (c.maxEventAge !== req.maxEventAgeSeconds) changes.push(`maximum event age ${c.maxEventAge} → ${req.maxEventAgeSeconds} s`);
  if (c.onFailure !== req.onFailure) changes.push(`failed events → ${req.onFailure.split(":").pop()}${c.onFailure ? ` (was ${c.onFailure.split(":").pop()})` : ""}`);
  return changes;
}

/** Lambda checks that the role may send to the destination; a just-granted permission takes a few seconds to apply. */
const destinationNotYetAllowed = (err: unknown) =>
  hasName(err, "InvalidParameterValueException") && /permission|not authorized|SendMessage/i.test((err as Error).message) ? "waiting for the role's sqs:SendMessage grant to apply" : undefined;

export async function ensureEventInvokeConfig(lambda: LambdaClient, req: EventInvokeRequest, waiter: Waiter, opts: { dryRun?: boolean } = {}): Promise<Outcome> {
  const current = await getEventInvokeConfig(lambda, req.functionName);
  const changes = eventInvokeChanges(current, req);
  if (!changes.length) return outcome("unchanged");
  if (!opts.dryRun) {
    await retryWhile(
      () =>
        lambda.send(
          new PutFunctionEventInvokeConfigCommand({
            FunctionName: req.functionName,
            MaximumRetryAttempts: req.retries,
            MaximumEventAgeInSeconds: req.maxEventAgeSeconds,
            DestinationConfig: { OnFailure: { Destination: req.onFailure } },
          }),
        ),
      (err) => destinationNotYetAllowed(err) ?? updateInProgress(err),
      waiter,
      { timeout: ROLE_PROPAGATION_TIMEOUT, initialDelay: 2000, maxDelay: 10_000 },
    );
  }
  return outcome(current ? "update" : "create", changes);
}

// ---------------------------------------------------------------------------------------------
// Invoke permission for S3

export interface PermissionRequest {
  functionName: string;
  statementId: string;
  bucketArn: string;
  account: string;
}

export async function policyStatements(lambda: LambdaClient, functionName: string): Promise<any[]> {
  try {
    const res = await lambda.send(new GetPolicyCommand({ FunctionName: functionName }));
    return JSON.parse(res.Policy ?? "{}").Statement ?? [];
  } catch (err) {
    if (hasName(err, "ResourceNotFoundException")) return [];
    throw err;
  }
}

function statementMatches(s: any, req: PermissionRequest): boolean {
  const service = typeof s.Principal === "object" ? s.Principal.Service : s.Principal;
  const sourceArn = s.Condition?.ArnLike?.["AWS:SourceArn"] ?? s.Condition?.ArnEquals?.["AWS:SourceArn"];
  const sourceAccount = s.Condition?.StringEquals?.["AWS:SourceAccount"];
  return service === "s3.amazonaws.com" && sourceArn === req.bucketArn && sourceAccount === req.account && /lambda:InvokeFunction/.test(JSON.stringify(s.Action));
}

/** lambda:InvokeFunction for s3.amazonaws.com from this bucket in this account; never duplicated. */
export async function ensureInvokePermission(lambda: LambdaClient, req: PermissionRequest, waiter: Waiter, opts: { dryRun?: boolean } = {}): Promise<Outcome> {
  const existing = (await policyStatements(lambda, req.functionName)).find((s) => s.Sid === req.statementId);
  if (existing && statementMatches(existing, req)) return outcome("unchanged");
  const detail = [`s3.amazonaws.com from ${req.bucketArn.split(":::").pop()} in account ${req.account}`];
  if (opts.dryRun) return outcome(existing ? "update" : "create", detail);
  if (existing) await lambda.send(new RemovePermissionCommand({ FunctionName: req.functionName, StatementId: req.statementId }));
  try {
    await retryWhile(
      () =>
        lambda.send(
          new AddPermissionCommand({
            FunctionName: req.functionName,
            StatementId: req.statementId,
            Action: "lambda:InvokeFunction",
            Principal: "s3.amazonaws.com",
            SourceArn: req.bucketArn,
            SourceAccount: req.account,
          }),
        ),
      updateInProgress,
      waiter,
      { timeout: 60_000 },
    );
  } catch (err) {
    // "The statement id (…) provided already exists": another run added it meanwhile
    if (hasName(err, "ResourceConflictException") && /already exists/i.test((err as Error).message)) return outcome("unchanged");
    throw err;
  }
  return outcome(existing ? "update" : "create", detail);
}

/** The function carries imgfn's tags for this app, so teardown may change it. */
export const ownedBy = (fn: GetFunctionCommandOutput, ownTags: Record<string, string>) => Object.entries(ownTags).every(([k, v]) => fn.Tags?.[k] === v);

/** Removes imgfn's statement from imgfn's function; a function of the same name that is not imgfn's keeps its policy. */
export async function removeInvokePermission(lambda: LambdaClient, functionName: string, statementId: string, ownTags: Record<string, string>, opts: { dryRun?: boolean } = {}): Promise<Outcome> {
  const fn = await getFunction(lambda, functionName);
  if (!fn) return outcome("absent");
  if (!ownedBy(fn, ownTags)) return outcome("skip", [`function ${functionName} is not tagged as imgfn's; its policy is left alone`]);
  const existing = (await policyStatements(lambda, functionName)).find((s) => s.Sid === statementId);
  if (!existing) return outcome("absent");
  if (!opts.dryRun) await tolerating(lambda.send(new RemovePermissionCommand({ FunctionName: functionName, StatementId: statementId })), "ResourceNotFoundException");
  return outcome("delete");
}

export async function deleteFunction(lambda: LambdaClient, functionName: string, ownTags: Record<string, string>, opts: { dryRun?: boolean } = {}): Promise<Outcome> {
  const fn = await getFunction(lambda, functionName);
  if (!fn) return outcome("absent");
  if (!ownedBy(fn, ownTags)) return outcome("skip", ["not tagged as imgfn's; left alone"]);
  if (!opts.dryRun) await tolerating(lambda.send(new DeleteFunctionCommand({ FunctionName: functionName })), "ResourceNotFoundException");
  return outcome("delete");
}
