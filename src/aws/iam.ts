/**
 * The function's role: trusted by lambda.amazonaws.com only, with one least-privilege inline
 * policy (read the input prefix, write the output prefix, write its own log group's streams).
 */
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
  type IAMClient,
  type Role,
} from "@aws-sdk/client-iam";
import { UserError } from "../errors.js";
import { hasName, tolerating } from "./errors.js";

/** IAM says a role or policy is not there with either name. */
const NO_SUCH_ENTITY = ["NoSuchEntity", "NoSuchEntityException"];
import { type Outcome, outcome } from "./outcome.js";

export const TRUST_POLICY = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
};

export interface RolePolicyInput {
  partition: string;
  region: string;
  account: string;
  bucket: string;
  inputPrefix: string;
  outputPrefix: string;
  logGroupName: string;
  /** The failure queue the function's async invocations send failed events to. */
  failureQueueArn: string;
}

export function rolePolicy(p: RolePolicyInput) {
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "ReadUploads", Effect: "Allow", Action: "s3:GetObject", Resource: `arn:${p.partition}:s3:::${p.bucket}/${p.inputPrefix}*` },
      // without s3:ListBucket S3 answers a deleted key with 403 AccessDenied instead of 404 NoSuchKey
      {
        Sid: "ListUploads",
        Effect: "Allow",
        Action: "s3:ListBucket",
        Resource: `arn:${p.partition}:s3:::${p.bucket}`,
        Condition: { StringLike: { "s3:prefix": [`${p.inputPrefix}*`] } },
      },
      { Sid: "WriteResults", Effect: "Allow", Action: "s3:PutObject", Resource: `arn:${p.partition}:s3:::${p.bucket}/${p.outputPrefix}*` },
      {
        Sid: "OwnLogGroup",
        Effect: "Allow",
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: `arn:${p.partition}:logs:${p.region}:${p.account}:log-group:${p.logGroupName}:*`,
      },
      { Sid: "SendFailedEvents", Effect: "Allow", Action: "sqs:SendMessage", Resource: p.failureQueueArn },
    ],
  };
}

/** JSON with sorted keys, so documents compare by meaning rather than formatting. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as any)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/** IAM returns policy documents URL-encoded. */
export function decodePolicy(doc: string | undefined): unknown {
  if (!doc) return undefined;
  try {
    return JSON.parse(decodeURIComponent(doc));
  } catch {
    return JSON.parse(doc);
  }
}

export async function getRole(iam: IAMClient, roleName: string): Promise<Role | undefined> {
  return (await tolerating(iam.send(new GetRoleCommand({ RoleName: roleName })), ...NO_SUCH_ENTITY))?.Role;
}

export async function getInlinePolicy(iam: IAMClient, roleName: string, policyName: string): Promise<unknown> {
  const res = await tolerating(iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })), ...NO_SUCH_ENTITY);
  return res ? decodePolicy(res.PolicyDocument) : undefined;
}

const hasTags = (role: Role, tags: Record<string, string>) => Object.entries(tags).every(([k, v]) => role.Tags?.some((t) => t.Key === k && t.Value === v));

export interface RoleRequest {
  roleName: string;
  policyName: string;
  policy: object;
  tags: Record<string, string>;
  /** Used in the role ARN of a plan when the role does not exist yet. */
  account?: string;
  partition?: string;
}

/** Returns the role ARN and whether the role is brand new (Lambda may not be able to assume it yet). */
export async function ensureRole(iam: IAMClient, req: RoleRequest, opts: { dryRun?: boolean } = {}): Promise<Outcome & { roleArn: string; isNew: boolean }> {
  const role = await getRole(iam, req.roleName);
  const plannedArn = `arn:${req.partition ?? "aws"}:iam::${req.account ?? "<account>"}:role/${req.roleName}`;
  const changes: string[] = [];
  let roleArn = role?.Arn ?? plannedArn;
  if (!role) {
    changes.push("trusted by lambda.amazonaws.com", "least-privilege inline policy");
    if (!opts.dryRun) {
      try {
        const res = await iam.send(
          new CreateRoleCommand({
            RoleName: req.roleName,
            AssumeRolePolicyDocument: JSON.stringify(TRUST_POLICY),
            Description: "imgfn: the image classification function's role",
            Tags: Object.entries(req.tags).map(([Key, Value]) => ({ Key, Value })),
          }),
        );
        roleArn = res.Role!.Arn!;
      } catch (err) {
        if (!hasName(err, "EntityAlreadyExists", "EntityAlreadyExistsException")) throw err;
        roleArn = (await getRole(iam, req.roleName))?.Arn ?? plannedArn;
      }
      await iam.send(new PutRolePolicyCommand({ RoleName: req.roleName, PolicyName: req.policyName, PolicyDocument: JSON.stringify(req.policy) }));
    }
    return { ...outcome("create", changes), roleArn, isNew: true };
  }
  // an untagged role of the same name is someone else's: replacing its trust policy would break them
  if (!hasTags(role, req.tags)) {
    throw new UserError(`IAM role ${req.roleName} exists but is not tagged as imgfn's; imgfn changes only what carries its tags`, {
      hint: `choose another "app" name in imgfn.config.json; or, if imgfn may take it over (its trust policy and inline policy ${req.policyName} are then imgfn's, and teardown deletes it), tag it: aws iam tag-role --role-name ${req.roleName} --tags ${Object.entries(req.tags).map(([k, v]) => `Key=${k},Value=${v}`).join(" ")}`,
    });
  }
  if (canonical(decodePolicy(role.AssumeRolePolicyDocument)) !== canonical(TRUST_POLICY)) {
    changes.push("trust policy");
    if (!opts.dryRun) await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: req.roleName, PolicyDocument: JSON.stringify(TRUST_POLICY) }));
  }
  const current = await getInlinePolicy(iam, req.roleName, req.policyName);
  if (canonical(current) !== canonical(req.policy)) {
    changes.push(current ? "permissions" : "inline policy");
    if (!opts.dryRun) await iam.send(new PutRolePolicyCommand({ RoleName: req.roleName, PolicyName: req.policyName, PolicyDocument: JSON.stringify(req.policy) }));
  }
  return { ...outcome(changes.length ? "update" : "unchanged", changes), roleArn, isNew: false };
}

/** Removes imgfn's inline policy and the role (only a role tagged as imgfn's). */
export async function deleteRole(iam: IAMClient, roleName: string, policyName: string, ownTags: Record<string, string>, opts: { dryRun?: boolean } = {}): Promise<Outcome> {
  const role = await getRole(iam, roleName);
  if (!role) return outcome("absent");
  if (!hasTags(role, ownTags)) return outcome("skip", ["not tagged as imgfn's; left alone"]);
  const inline = (await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }))).PolicyNames ?? [];
  const attached = (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }))).AttachedPolicies ?? [];
  const foreign = [...inline.filter((n) => n !== policyName), ...attached.map((p) => p.PolicyName ?? p.PolicyArn ?? "")];
  if (opts.dryRun) return outcome("delete", foreign.length ? [`policies added by someone else would keep it: ${foreign.join(", ")}`] : ["and its policy"]);
  if (inline.includes(policyName)) {
    await tolerating(iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })), ...NO_SUCH_ENTITY);
  }
  if (foreign.length) return outcome("skip", [`imgfn's policy removed; role kept because someone else added ${foreign.join(", ")}`]);
  await tolerating(iam.send(new DeleteRoleCommand({ RoleName: roleName })), ...NO_SUCH_ENTITY);
  return outcome("delete", ["and its policy"]);
}
