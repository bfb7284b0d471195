/**
 * The function's Function URL (synchronous HTTP classification): its configuration (auth type,
 * CORS) and, for auth NONE only, the resource-policy statements that let anyone call it. Nothing
 * public exists unless the config asks for "auth": "NONE"; turning http off removes it all.
 */
import {
  AddPermissionCommand,
  CreateFunctionUrlConfigCommand,
  DeleteFunctionUrlConfigCommand,
  GetFunctionUrlConfigCommand,
  type Cors,
  type GetFunctionUrlConfigCommandOutput,
  type LambdaClient,
  RemovePermissionCommand,
  UpdateFunctionUrlConfigCommand,
} from "@aws-sdk/client-lambda";
import { readFile } from "node:fs/promises";
import type { Context } from "../commands/command.js";
import { effectiveCors, type FunctionUrlAuth, type HttpConfig } from "../config.js";
import { UserError } from "../errors.js";
import { contentTypeFor, postImage } from "../pipeline/http-classify.js";
import { formatMs } from "../ui/output.js";
import type { AwsClients } from "./clients.js";
import { lambdaUrlSigner } from "./url-signer.js";
import { tolerating } from "./errors.js";
import { policyStatements, updateInProgress } from "./lambda.js";
import { type Outcome, outcome } from "./outcome.js";
import { retryWhile, type Waiter } from "./retry.js";

export const PUBLIC_URL_WARNING =
  'the Function URL uses auth NONE: anyone who finds the URL can call it, and every call spends this account\'s money (Lambda time and requests). Use "auth": "AWS_IAM" unless it must be public; cap it with "reservedConcurrency".';

/**
 * The two statements a public (auth NONE) URL needs. Since October 2025 Lambda wants both
 * lambda:InvokeFunctionUrl and lambda:InvokeFunction; the second is limited to calls that come
 * through the URL, so it opens nothing besides the URL.
 */
export function publicStatements(functionName: string) {
  return [
    { sid: `${functionName}-url-public`, action: "lambda:InvokeFunctionUrl", add: { FunctionUrlAuthType: "NONE" as const } },
    { sid: `${functionName}-url-public-invoke`, action: "lambda:InvokeFunction", add: { InvokedViaFunctionUrl: true } },
  ];
}

export interface FunctionUrlView {
  url: string;
  auth: FunctionUrlAuth;
  cors?: Cors;
}

export async function getFunctionUrl(lambda: LambdaClient, functionName: string): Promise<GetFunctionUrlConfigCommandOutput | undefined> {
  return tolerating(lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: functionName })), "ResourceNotFoundException");
}

export function viewOf(cfg: GetFunctionUrlConfigCommandOutput): FunctionUrlView {
  return { url: cfg.FunctionUrl!, auth: cfg.AuthType as FunctionUrlAuth, ...(hasCors(cfg.Cors) ? { cors: cfg.Cors } : {}) };
}

/**
 * Lambda's Cors shape for the config. No CORS is every field explicitly empty: an update that
 * omits Cors (or sends {}) may keep the old rules, while empty lists clear them.
 */
export function desiredCors(http: HttpConfig): Cors {
  const cors = effectiveCors(http);
  if (!cors) return { AllowOrigins: [], AllowMethods: [], AllowHeaders: [], ExposeHeaders: [], MaxAge: 0, AllowCredentials: false };
  return { AllowOrigins: cors.allowOrigins, AllowMethods: cors.allowMethods, AllowHeaders: cors.allowHeaders, MaxAge: cors.maxAge };
}

const hasCors = (c: Cors | undefined) => Boolean(c?.AllowOrigins?.length || c?.AllowMethods?.length || c?.AllowHeaders?.length);
const sorted = (v: string[] | undefined, lower = false) => [...(v ?? [])].map((s) => (lower ? s.toLowerCase() : s)).sort().join(",");

/** Differences between the URL's configuration and the config ("auth AWS_IAM → NONE", "CORS"). */
export function urlChanges(actual: GetFunctionUrlConfigCommandOutput, http: HttpConfig): string[] {
  const changes: string[] = [];
  if (actual.AuthType !== http.auth) changes.push(`auth ${actual.AuthType} → ${http.auth}`);
  const want = desiredCors(http);
  const have = actual.Cors ?? {};
  if (!hasCors(want) && hasCors(have)) changes.push("CORS removed");
  else if (hasCors(want)) {
    const same =
      sorted(have.AllowOrigins) === sorted(want.AllowOrigins) &&
      sorted(have.AllowMethods) === sorted(want.AllowMethods) &&
      sorted(have.AllowHeaders, true) === sorted(want.AllowHeaders, true) &&
      (have.MaxAge ?? 0) === (want.MaxAge ?? 0) &&
      Boolean(have.AllowCredentials) === Boolean(want.AllowCredentials);
    if (!same) changes.push(`CORS for ${want.AllowOrigins!.join(" ")}`);
  }
  return changes;
}

/**
 * Whether a policy statement is exactly the public grant `want` describes. Real Lambda puts the
 * auth type and the via-URL flag in Condition; moto keeps them as top-level fields.
 */
function isPublicGrant(s: any, want: ReturnType<typeof publicStatements>[number]): boolean {
  const principal = typeof s.Principal === "object" ? s.Principal?.AWS : s.Principal;
  const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
  if (s.Effect !== "Allow" || principal !== "*" || actions.length !== 1 || actions[0] !== want.action) return false;
  if ("FunctionUrlAuthType" in want.add) return (s.Condition?.StringEquals?.["lambda:FunctionUrlAuthType"] ?? s.FunctionUrlAuthType) === "NONE";
  return String(s.Condition?.Bool?.["lambda:InvokedViaFunctionUrl"] ?? s.InvokedViaFunctionUrl) === "true";
}

/** Adds the public statements that are missing (or wrong), or removes them all (`wanted` false). */
async function syncPublicStatements(lambda: LambdaClient, functionName: string, wanted: boolean, waiter: Waiter, dryRun: boolean): Promise<string[]> {
  const statements = await policyStatements(lambda, functionName);
  const changes: string[] = [];
  for (const want of publicStatements(functionName)) {
    const existing = statements.find((s) => s.Sid === want.sid);
    const right = existing && isPublicGrant(existing, want);
    if (wanted && right) continue;
    if (!wanted && !existing) continue;
    changes.push(wanted ? `allow anyone: ${want.action}` : `remove public ${want.action}`);
    if (dryRun) continue;
    if (existing) await tolerating(lambda.send(new RemovePermissionCommand({ FunctionName: functionName, StatementId: want.sid })), "ResourceNotFoundException");
    if (wanted) {
      await tolerating(
        retryWhile(
          () => lambda.send(new AddPermissionCommand({ FunctionName: functionName, StatementId: want.sid, Action: want.action, Principal: "*", ...want.add })),
          updateInProgress,
          waiter,
          { timeout: 60_000 },
        ),
        "ResourceConflictException", // "already exists": another run added it meanwhile
      );
    }
  }
  return changes;
}

/** Creates or updates the URL so it matches `http`; public statements only for auth NONE. */
export async function ensureFunctionUrl(lambda: LambdaClient, functionName: string, http: HttpConfig, waiter: Waiter, opts: { dryRun?: boolean } = {}): Promise<Outcome & { url?: string }> {
  const dryRun = Boolean(opts.dryRun);
  const existing = await getFunctionUrl(lambda, functionName);
  const cors = desiredCors(http);
  const retry = { timeout: 60_000 };
  let url = existing?.FunctionUrl;
  let action: Outcome["action"] = "unchanged";
  const changes: string[] = [];
  if (!existing) {
    action = "create";
    changes.push(`auth ${http.auth}`, ...(hasCors(cors) ? [`CORS for ${cors.AllowOrigins!.join(" ")}`] : []));
    if (!dryRun) {
      const created = await retryWhile(() => lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: functionName, AuthType: http.auth, ...(hasCors(cors) ? { Cors: cors } : {}) })), updateInProgress, waiter, retry);
      url = created.FunctionUrl;
    }
  } else {
    const diff = urlChanges(existing, http);
    if (diff.length) {
      action = "update";
      changes.push(...diff);
      if (!dryRun) await retryWhile(() => lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: functionName, AuthType: http.auth, Cors: cors })), updateInProgress, waiter, retry);
    }
  }
  // (a function that does not exist yet, in a plan, has an empty policy: every statement is planned)
  const policy = await syncPublicStatements(lambda, functionName, http.auth === "NONE", waiter, dryRun);
  if (policy.length && action === "unchanged") action = "update";
  return { ...outcome(action, [...changes, ...policy]), url };
}

/** Removes the public statements and the URL configuration (teardown, or deploy with http off). */
export async function deleteFunctionUrl(lambda: LambdaClient, functionName: string, waiter: Waiter, opts: { dryRun?: boolean } = {}): Promise<Outcome> {
  const existing = await getFunctionUrl(lambda, functionName);
  const policy = await syncPublicStatements(lambda, functionName, false, waiter, Boolean(opts.dryRun));
  if (!existing && policy.length === 0) return outcome("absent");
  if (existing && !opts.dryRun) await tolerating(lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: functionName })), "ResourceNotFoundException");
  return outcome("delete", [...(existing ? [existing.FunctionUrl!] : []), ...policy]);
}

/**
 * The deploy step: the URL as the config wants it, or gone when http is off. Returns undefined
 * when http is off and nothing is there (no step to show).
 */
export async function syncFunctionUrl(lambda: LambdaClient, functionName: string, http: HttpConfig | false, waiter: Waiter, opts: { dryRun?: boolean } = {}): Promise<(Outcome & { url?: string }) | undefined> {
  if (http) return ensureFunctionUrl(lambda, functionName, http, waiter, opts);
  const removed = await deleteFunctionUrl(lambda, functionName, waiter, opts);
  return removed.action === "absent" ? undefined : removed;
}

/** Status: what differs between the deployed URL and the config. */
export function functionUrlDrift(actual: GetFunctionUrlConfigCommandOutput | undefined, http: HttpConfig | false, statements: any[], functionName: string): string[] {
  const publicOnes = publicStatements(functionName).filter((want) => statements.some((s) => s.Sid === want.sid && isPublicGrant(s, want)));
  if (!http) {
    const drift = actual ? [`function URL ${actual.FunctionUrl} exists but "http" is off`] : [];
    return publicOnes.length ? [...drift, "public invoke permission exists but \"http\" is off"] : drift;
  }
  if (!actual) return ["function URL is missing (http is on)"];
  const drift = urlChanges(actual, http).map((c) => `function URL ${c}`);
  if (http.auth === "NONE" && publicOnes.length < 2) drift.push("function URL is NONE but its public invoke permission is missing (callers get 403)");
  if (http.auth === "AWS_IAM" && publicOnes.length) drift.push("public invoke permission exists but the URL uses AWS_IAM");
  return drift;
}

export interface HttpVerifyReport {
  url: string;
  status: number;
  top1: string;
  score: number;
  latencyMs: number;
  requestId?: string;
}

/** deploy's HTTP check: POST the sample to the URL (signed for AWS_IAM) and expect a good answer. */
export async function verifyFunctionUrl(
  clients: AwsClients,
  url: string,
  http: HttpConfig,
  sample: string,
  expected: (index: number) => boolean,
  signal?: AbortSignal,
): Promise<HttpVerifyReport> {
  const sign = http.auth === "AWS_IAM" ? lambdaUrlSigner(clients.lambda, clients.region) : undefined;
  const answer = await postImage(url, await readFile(sample), { contentType: contentTypeFor(sample), sign, signal });
  const top = answer.document?.predictions?.[0];
  if (answer.status !== 200 || !top) {
    const what = answer.document?.error ? `${answer.document.error.code}: ${answer.document.error.message}` : answer.text.slice(0, 300);
    throw new UserError(`HTTP verification failed: ${url} answered ${answer.status} (${what})`, {
      hint:
        answer.status === 403
          ? `for AWS_IAM the caller needs lambda:InvokeFunctionUrl and lambda:InvokeFunction on the function; for NONE the public permission must exist (imgfn deploy adds it). See docs/aws.md`
          : `see what the function logged: imgfn logs --since 10m`,
    });
  }
  if (!expected(top.index)) throw new UserError(`HTTP verification failed: the sample cat was classified as "${top.label}"`, { hint: "check the model with: imgfn predict samples/cat.jpg" });
  return { url, status: answer.status, top1: top.label, score: top.score, latencyMs: answer.latencyMs, requestId: answer.requestId };
}

/** deploy's "Verify HTTP" step, or a skip behind an --endpoint-url (emulators store URLs but do not serve them). */
export async function verifyHttpStep(
  ctx: Context,
  clients: AwsClients,
  http: HttpConfig,
  url: string,
  sample: string,
  steps: { step: string; resource: string; action: Outcome["action"]; changes: string[] }[],
  expected: (index: number) => boolean,
): Promise<HttpVerifyReport | undefined> {
  if (clients.options.endpointUrl) {
    steps.push({ step: "verify-http", resource: url, action: "skip", changes: ["an --endpoint-url emulator does not serve Function URLs"] });
    return undefined;
  }
  return ctx.out.step("Verify HTTP", async (s) => {
    const v = await verifyFunctionUrl(clients, url, http, sample, expected, ctx.signal);
    s.done(`POST ${url} → ${v.top1} (${(v.score * 100).toFixed(1)}%) in ${formatMs(v.latencyMs)}`);
    return v;
  });
}
