/**
 * The one place where AWS SDK errors become errors a user can act on: missing or expired
 * credentials, AccessDenied (naming the refused action and resource), a missing region, an
 * unreachable endpoint. Everything else passes through unchanged, so ensure* code can still
 * branch on AWS's exception names (errorName / hasName below).
 */
import { UserError } from "../errors.js";

export const PERMISSIONS_DOC = "docs/aws.md lists every permission imgfn needs";

/** AWS's exception name (SDK v3 sets `name`; some older shapes use `Code`/`code`). */
export function errorName(err: unknown): string {
  const e = err as any;
  return String(e?.name ?? e?.Code ?? e?.code ?? "");
}

/**
 * Awaits an AWS call, taking the named errors to mean the wanted state already holds (a delete of
 * something gone, a create of something there): they resolve to undefined instead of throwing.
 */
export async function tolerating<T>(call: Promise<T>, ...names: string[]): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (hasName(err, ...names)) return undefined;
    throw err;
  }
}

export function hasName(err: unknown, ...names: string[]): boolean {
  return names.includes(errorName(err));
}

export function httpStatus(err: unknown): number | undefined {
  return (err as any)?.$metadata?.httpStatusCode ?? (err as any)?.$response?.statusCode;
}

export interface TranslateContext {
  /** "s3:PutObject": named when AWS's message does not say which action was refused. */
  operation?: string;
  profile?: string;
  endpointUrl?: string;
}

const ACCESS_DENIED = new Set(["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException", "AuthorizationError"]);
const BAD_CREDENTIALS = new Set(["InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidSignatureException", "IncompleteSignature"]);
/** The connection never reached AWS. */
const NETWORK = new Set(["ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH", "EHOSTUNREACH", "TimeoutError"]);
const EXPIRED = new Set(["ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"]);

/** Returns a UserError for the errors listed above, or the error itself. */
export function translateAwsError(err: unknown, ctx: TranslateContext = {}): unknown {
  if (err instanceof UserError || !(err instanceof Error)) return err;
  const name = errorName(err);
  const message = err.message ?? "";
  const profileFlag = ctx.profile ? ` --profile ${ctx.profile}` : "";

  if (name === "TokenProviderError" || /SSO session .*(expired|invalid)|sso.*token.*expired|Token is expired|refresh.*SSO/i.test(message)) {
    return new UserError("your AWS SSO session has expired", { hint: `run "aws sso login${profileFlag}" and try again`, cause: err });
  }
  if (name === "CredentialsProviderError" || /Could not load credentials from any providers/i.test(message)) {
    return new UserError(`no AWS credentials found${ctx.profile ? ` for profile "${ctx.profile}"` : ""}`, {
      hint: `run "aws configure" (or "aws sso login${profileFlag}"), or set AWS_PROFILE / AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
      cause: err,
    });
  }
  if (EXPIRED.has(name)) {
    return new UserError("your AWS credentials have expired", { hint: `refresh them ("aws sso login${profileFlag}" or new keys) and try again`, cause: err });
  }
  if (BAD_CREDENTIALS.has(name)) {
    return new UserError(`AWS rejected the credentials (${name})`, { hint: `check the access key and secret${ctx.profile ? ` of profile "${ctx.profile}"` : ""}, or run "aws sts get-caller-identity${profileFlag}"`, cause: err });
  }
  if (ACCESS_DENIED.has(name) || /is not authorized to perform/.test(message)) {
    const denied = parseAccessDenied(message);
    const action = denied.action ?? ctx.operation;
    const what = action ? `${action}${denied.resource ? ` on ${denied.resource}` : ""}` : "the request";
    const who = denied.principal ? ` for ${denied.principal}` : "";
    return new UserError(`AWS denied ${what}${who}`, {
      hint: action ? `allow ${action}${denied.resource ? ` on ${denied.resource}` : ""} in your IAM policy (${PERMISSIONS_DOC})` : `check your IAM permissions (${PERMISSIONS_DOC})`,
      cause: err,
    });
  }
  if (/Region is missing/i.test(message)) {
    return new UserError("no AWS region configured", { hint: `pass --region, set "region" in imgfn.config.json, or set AWS_REGION`, cause: err });
  }
  const code = (err as NodeJS.ErrnoException).code ?? ((err as any).cause as NodeJS.ErrnoException | undefined)?.code;
  if (ctx.endpointUrl && (code === "ECONNREFUSED" || code === "ENOTFOUND" || name === "ECONNREFUSED")) {
    return new UserError(`cannot reach ${ctx.endpointUrl} (${code ?? name})`, { hint: "start the emulator or check --endpoint-url", cause: err });
  }
  if (NETWORK.has(code ?? "") || NETWORK.has(name)) {
    const host = /(?:ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|connect \w+)\s+(\S+)/.exec(message)?.[1];
    return new UserError(`cannot reach AWS${host ? ` at ${host}` : ""} (${code ?? name}): no network, or a DNS or proxy problem`, {
      hint: "check the connection (and HTTPS_PROXY behind a proxy), then run the command again; imgfn deploy --dry-run without AWS access plans everything as new, and --endpoint-url points imgfn at an emulator",
      cause: err,
    });
  }
  return err;
}

/** "User: arn:… is not authorized to perform: iam:CreateRole on resource: arn:… because …" */
export function parseAccessDenied(message: string): { principal?: string; action?: string; resource?: string } {
  const m = /(?:User: (\S+) is )?not authorized to perform: ([\w-]+:[\w*-]+)(?: on resource: "?([^"\s]+?)"?(?:\s|$))?/.exec(message);
  if (!m) return {};
  return { principal: m[1], action: m[2], resource: m[3] };
}

/** Runs `fn`, translating AWS errors that escape it. Commands wrap their AWS work in this. */
export async function withAwsErrors<T>(fn: () => Promise<T>, ctx: TranslateContext = {}): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw translateAwsError(err, ctx);
  }
}
