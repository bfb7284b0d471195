/**
 * The failure queue: where Lambda sends an S3 event the function failed on after every retry (its
 * on-failure destination), so no event is lost. imgfn creates and tags it (SSE-SQS, 14 days of
 * retention, a policy that allows only the function's role to send, over TLS), and deletes it
 * only when it is empty or the user says --force: its messages are the failed events.
 */
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  SetQueueAttributesCommand,
  type QueueAttributeName,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { UserError } from "../errors.js";
import { hasName, tolerating } from "./errors.js";
import { canonical, decodePolicy } from "./iam.js";
import { type Outcome, outcome } from "./outcome.js";
import { realSleep, retryWhile, type Waiter } from "./retry.js";

/** 14 days, SQS's maximum: time enough to notice, fix the cause and retry. */
export const FAILURE_RETENTION_SECONDS = 14 * 24 * 3600;

export interface FailureQueueRequest {
  name: string;
  /** arn:<partition>:sqs:<region>:<account>:<name> */
  arn: string;
  /** The function's role: the only principal that may send (Lambda sends as the role). */
  roleArn: string;
  tags: Record<string, string>;
}

export const queueArn = (p: { partition: string; region: string; account: string; name: string }) => `arn:${p.partition}:sqs:${p.region}:${p.account}:${p.name}`;

/** Only the function's role may send, only over TLS; reading is left to the account's own IAM. */
export function failureQueuePolicy(req: Pick<FailureQueueRequest, "arn" | "roleArn">) {
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "FunctionSendsFailedEvents", Effect: "Allow", Principal: { AWS: req.roleArn }, Action: "sqs:SendMessage", Resource: req.arn },
      { Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "sqs:*", Resource: req.arn, Condition: { Bool: { "aws:SecureTransport": "false" } } },
    ],
  };
}

function wantedAttributes(req: FailureQueueRequest): Record<string, string> {
  return {
    SqsManagedSseEnabled: "true",
    MessageRetentionPeriod: String(FAILURE_RETENTION_SECONDS),
    Policy: JSON.stringify(failureQueuePolicy(req)),
  };
}

/** The queue's URL, or undefined when it does not exist. */
export async function failureQueueUrl(sqs: SQSClient, name: string): Promise<string | undefined> {
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (err) {
    if (hasName(err, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "NonExistentQueue")) return undefined;
    throw err;
  }
}

async function queueTags(sqs: SQSClient, url: string): Promise<Record<string, string>> {
  return (await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags ?? {};
}

const carries = (tags: Record<string, string>, own: Record<string, string>) => Object.entries(own).every(([k, v]) => tags[k] === v);

function foreignQueue(name: string, tags: Record<string, string>): UserError {
  return new UserError(`an SQS queue named ${name} exists but is not tagged as imgfn's`, {
    hint: `imgfn changes and deletes only what carries its tags: choose another "app" name in imgfn.config.json, or, if this queue is meant for imgfn, tag it (aws sqs tag-queue --queue-url <url> --tags ${Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(",")})`,
  });
}

/** Creates the queue, or brings an imgfn queue's encryption, retention and policy back to what they should be. */
/**
 * SQS checks the policy's principal: a role created seconds ago may not resolve yet (IAM is
 * eventually consistent), and the write is refused until it does.
 */
const principalNotYetKnown = (err: unknown) =>
  hasName(err, "InvalidAttributeValue", "InvalidParameterValue", "InvalidAttributeValueException") && /policy|principal/i.test((err as Error).message)
    ? "waiting for the new role to become usable in the queue policy"
    : undefined;

const NO_WAIT: Waiter = { sleep: realSleep };

export async function ensureFailureQueue(sqs: SQSClient, req: FailureQueueRequest, opts: { dryRun?: boolean; waiter?: Waiter } = {}): Promise<Outcome & { queueUrl?: string }> {
  const waiter = opts.waiter ?? NO_WAIT;
  const patiently = <T>(call: () => Promise<T>) => retryWhile(call, principalNotYetKnown, waiter, { timeout: 120_000, initialDelay: 2000, maxDelay: 10_000 });
  const wanted = wantedAttributes(req);
  const url = await failureQueueUrl(sqs, req.name);
  if (!url) {
    const changes = ["SSE-SQS", "14 days retention", "only the function's role may send"];
    if (opts.dryRun) return outcome("create", changes);
    const created = await patiently(() => sqs.send(new CreateQueueCommand({ QueueName: req.name, Attributes: wanted, tags: req.tags })));
    return { ...outcome("create", changes), queueUrl: created.QueueUrl };
  }
  if (!carries(await queueTags(sqs, url), req.tags)) throw foreignQueue(req.name, req.tags);
  const current = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: Object.keys(wanted) as QueueAttributeName[] }))).Attributes ?? {};
  const differ: Record<string, string> = {};
  const changes: string[] = [];
  if (current.SqsManagedSseEnabled !== "true" && !current.KmsMasterKeyId) {
    differ.SqsManagedSseEnabled = "true";
    changes.push("SSE-SQS enabled");
  }
  if (current.MessageRetentionPeriod !== wanted.MessageRetentionPeriod) {
    differ.MessageRetentionPeriod = wanted.MessageRetentionPeriod;
    changes.push(`retention ${current.MessageRetentionPeriod ?? "?"} → ${FAILURE_RETENTION_SECONDS} s`);
  }
  if (canonical(decodePolicy(current.Policy)) !== canonical(failureQueuePolicy(req))) {
    differ.Policy = wanted.Policy;
    changes.push("queue policy");
  }
  if (!changes.length) return { ...outcome("unchanged"), queueUrl: url };
  if (!opts.dryRun) await patiently(() => sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: differ })));
  return { ...outcome("update", changes), queueUrl: url };
}

/** Events waiting in the queue (visible, in flight and delayed); undefined when there is no queue. */
export async function countFailedEvents(sqs: SQSClient, name: string): Promise<number | undefined> {
  const url = await failureQueueUrl(sqs, name);
  if (!url) return undefined;
  const a = (
    await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"] }),
    )
  ).Attributes ?? {};
  return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
}

export class FailedEventsError extends UserError {
  constructor(
    readonly queueName: string,
    readonly count: number,
  ) {
    super(`the failure queue ${queueName} holds ${count} failed event${count === 1 ? "" : "s"}; deleting it would lose ${count === 1 ? "it" : "them"}, so teardown stopped before deleting anything`, {
      hint: "look at them with imgfn failed and replay them with imgfn retry, or add --force to delete them with the queue",
    });
    this.name = "FailedEventsError";
  }
}

/**
 * Deletes imgfn's queue. With events inside it refuses unless `force` (checked again here, not
 * only in the plan: an event may have failed in between).
 */
export async function deleteFailureQueue(sqs: SQSClient, name: string, ownTags: Record<string, string>, opts: { dryRun?: boolean; force?: boolean } = {}): Promise<Outcome> {
  const url = await failureQueueUrl(sqs, name);
  if (!url) return outcome("absent");
  if (!carries(await queueTags(sqs, url), ownTags)) return outcome("skip", ["not tagged as imgfn's; left alone"]);
  const count = (await countFailedEvents(sqs, name)) ?? 0;
  if (count > 0 && !opts.force) throw new FailedEventsError(name, count);
  if (!opts.dryRun) await tolerating(sqs.send(new DeleteQueueCommand({ QueueUrl: url })), "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue");
  return outcome("delete", count ? [`and its ${count} failed event${count === 1 ? "" : "s"} (--force)`] : []);
}

