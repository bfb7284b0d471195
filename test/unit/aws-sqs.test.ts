/** The failure queue's steps, for what moto does not show: a queue policy naming a role IAM has not propagated yet. */
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ListQueueTagsCommand, SetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { ensureFailureQueue, FAILURE_RETENTION_SECONDS, failureQueuePolicy } from "../../src/aws/sqs.js";
import { UserError } from "../../src/errors.js";
import { awsError, instantWaiter } from "./aws-fixtures.js";

const sqs = mockClient(SQSClient);
beforeEach(() => sqs.reset());
const req = { name: "imgfn-demo-failed", arn: "arn:aws:sqs:eu-west-1:123456789012:imgfn-demo-failed", roleArn: "arn:aws:iam::123456789012:role/imgfn-demo-role", tags: { "managed-by": "imgfn", "imgfn:app": "demo" } };
const URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/imgfn-demo-failed";

describe("failure queue", () => {
  it("creates it encrypted, kept 14 days, sendable by the role only; waits while SQS cannot resolve a just-created role", async () => {
    sqs.on(GetQueueUrlCommand).rejects(awsError("QueueDoesNotExist", "The specified queue does not exist."));
    sqs.on(CreateQueueCommand).rejectsOnce(awsError("InvalidAttributeValue", "Invalid value for the parameter Policy.")).resolves({ QueueUrl: URL });
    const waiter = instantWaiter();
    const o = await ensureFailureQueue(new SQSClient({}), req, { waiter });
    expect(o).toMatchObject({ action: "create", queueUrl: URL });
    expect(waiter.waits[0]).toMatch(/^waiting for the new role to become usable in the queue policy/);
    const input = sqs.commandCalls(CreateQueueCommand)[1].args[0].input;
    expect(input.tags).toEqual(req.tags);
    expect(input.Attributes).toEqual({ SqsManagedSseEnabled: "true", MessageRetentionPeriod: "1209600", Policy: JSON.stringify(failureQueuePolicy(req)) });
  });

  it("brings back only what drifted on imgfn's queue", async () => {
    sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: URL });
    sqs.on(ListQueueTagsCommand).resolves({ Tags: req.tags });
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { SqsManagedSseEnabled: "true", MessageRetentionPeriod: "345600", Policy: JSON.stringify(failureQueuePolicy(req)) } });
    sqs.on(SetQueueAttributesCommand).resolves({});
    const o = await ensureFailureQueue(new SQSClient({}), req);
    expect(o).toMatchObject({ action: "update", changes: [`retention 345600 → ${FAILURE_RETENTION_SECONDS} s`] });
    expect(sqs.commandCalls(SetQueueAttributesCommand)[0].args[0].input.Attributes).toEqual({ MessageRetentionPeriod: "1209600" });
  });

  it("refuses a same-named queue without imgfn's tags, changing nothing", async () => {
    sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: URL });
    sqs.on(ListQueueTagsCommand).resolves({ Tags: { team: "payments" } });
    const err = await ensureFailureQueue(new SQSClient({}), req, { dryRun: true }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe("an SQS queue named imgfn-demo-failed exists but is not tagged as imgfn's");
    expect(err.hint).toContain("aws sqs tag-queue");
    expect(sqs.commandCalls(SetQueueAttributesCommand)).toHaveLength(0);
  });
});
