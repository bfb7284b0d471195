/**
 * Reading the function's failure queue (imgfn-<app>-failed, Lambda's on-failure destination for
 * asynchronous invocations): receive with a visibility timeout, parse Lambda's destination
 * records, delete by receipt handle. The queue itself (creation, policy, teardown, count) is
 * src/aws/sqs.ts's; this is only what `imgfn failed` and `imgfn retry` need.
 *
 * A destination record, as Lambda sends it:
 *   { version, timestamp, requestContext: { requestId, functionArn, condition, approximateInvokeCount },
 *     requestPayload: <the original event>, responseContext: {...}, responsePayload: { errorType, errorMessage } }
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { UserError } from "../errors.js";
import { failureQueueUrl } from "./sqs.js";
import { describeEvent, type FailedEvent, type FailedEventSource } from "../pipeline/failures.js";

/** How long `imgfn failed` keeps messages from other readers while it pages through them. */
export const LIST_HOLD_SECONDS = 30;

export function parseDestinationRecord(message: Pick<Message, "MessageId" | "Body" | "ReceiptHandle" | "Attributes">): FailedEvent {
  let record: any;
  try {
    record = JSON.parse(message.Body ?? "");
  } catch {
    record = undefined;
  }
  const sentAt = Number(message.Attributes?.SentTimestamp);
  const base = { id: message.MessageId ?? "", receiptHandle: message.ReceiptHandle };
  if (!record || typeof record !== "object" || !("requestPayload" in record)) {
    return { ...base, keys: [], errorType: "UnknownMessage", errorMessage: "not a Lambda destination record (no requestPayload); it cannot be replayed", attempts: 0, lastFailure: Number.isFinite(sentAt) ? new Date(sentAt).toISOString() : "" };
  }
  const ctx = record.requestContext ?? {};
  const response = record.responsePayload && typeof record.responsePayload === "object" ? record.responsePayload : {};
  const { keys, bucket, eTag } = describeEvent(record.requestPayload);
  return {
    ...base,
    keys,
    bucket,
    eTag,
    // no responsePayload: the event expired or was throttled away (condition EventAgeExceeded)
    errorType: String(response.errorType ?? ctx.condition ?? "Unknown"),
    errorMessage: String(response.errorMessage ?? (ctx.condition ? `Lambda gave up on the event: ${ctx.condition}` : "")),
    attempts: Number(ctx.approximateInvokeCount ?? 0),
    lastFailure: String(record.timestamp ?? (Number.isFinite(sentAt) ? new Date(sentAt).toISOString() : "")),
    event: record.requestPayload,
  };
}

export class FailureQueue implements FailedEventSource {
  readonly description: string;
  private url?: string;

  constructor(
    private readonly sqs: SQSClient,
    readonly queueName: string,
  ) {
    this.description = `SQS queue ${queueName}`;
  }

  async queueUrl(): Promise<string> {
    if (this.url) return this.url;
    this.url = await failureQueueUrl(this.sqs, this.queueName);
    if (!this.url) throw new UserError(`the failure queue ${this.queueName} does not exist`, { hint: `run "imgfn deploy": it creates the queue and sends the events the function fails on there` });
    return this.url;
  }

  /**
   * Receives until the queue has nothing more to give. Each message stays hidden for
   * `holdSeconds`, so one pass sees each once (and a parallel retry cannot replay it twice).
   */
  async list(opts: { holdSeconds?: number } = {}): Promise<FailedEvent[]> {
    const QueueUrl = await this.queueUrl();
    const seen = new Map<string, FailedEvent>();
    for (;;) {
      const res = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: opts.holdSeconds ?? LIST_HOLD_SECONDS,
          // long polling asks every SQS server, so a small queue is not reported empty by chance
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ["SentTimestamp", "ApproximateReceiveCount"],
        }),
      );
      const messages = res.Messages ?? [];
      let fresh = 0;
      for (const m of messages) {
        if (!m.MessageId || seen.has(m.MessageId)) continue;
        seen.set(m.MessageId, parseDestinationRecord(m));
        fresh++;
      }
      if (messages.length === 0 || fresh === 0) break;
    }
    return [...seen.values()].sort((a, b) => a.lastFailure.localeCompare(b.lastFailure));
  }

  async remove(entry: FailedEvent): Promise<void> {
    if (!entry.receiptHandle) throw new Error(`message ${entry.id} has no receipt handle (it was not received)`);
    await this.sqs.send(new DeleteMessageCommand({ QueueUrl: await this.queueUrl(), ReceiptHandle: entry.receiptHandle }));
  }

  /** Visible again now instead of after the hold (best effort: they reappear by themselves anyway). */
  async release(entries: FailedEvent[]): Promise<void> {
    const held = entries.filter((e) => e.receiptHandle);
    const QueueUrl = await this.queueUrl();
    for (let i = 0; i < held.length; i += 10) {
      const batch = held.slice(i, i + 10);
      await this.sqs
        .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl, Entries: batch.map((e, n) => ({ Id: String(n), ReceiptHandle: e.receiptHandle!, VisibilityTimeout: 0 })) }))
        .catch(() => {});
    }
  }
}
