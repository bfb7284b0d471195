import { AddPermissionCommand, CreateFunctionCommand, GetFunctionCommand, GetFunctionConfigurationCommand, GetFunctionEventInvokeConfigCommand, GetPolicyCommand, LambdaClient, PutFunctionConcurrencyCommand, RemovePermissionCommand, UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand } from "@aws-sdk/client-lambda";
import { CreateBucketCommand, GetBucketNotificationConfigurationCommand, GetBucketTaggingCommand, HeadBucketCommand, PutBucketNotificationConfigurationCommand, PutBucketTaggingCommand, PutPublicAccessBlockCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { PutFunctionEventInvokeConfigCommand } from "@aws-sdk/client-lambda";
import { ensureEventInvokeConfig, ensureFunction, ensureInvokePermission, type FunctionRequest } from "../../src/aws/lambda.js";
import { ensureBucket, ensureTrigger, findOverlaps, inspectBucket, removeTrigger, ruleViews } from "../../src/aws/s3.js";
import { UserError } from "../../src/errors.js";
import { ACCOUNT, DIGEST_A, DIGEST_B, REPO_URI, awsError, instantWaiter } from "./aws-fixtures.js";

const s3 = mockClient(S3Client);
const lambda = mockClient(LambdaClient);
beforeEach(() => {
  s3.reset();
  lambda.reset();
});

const FN_ARN = `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:imgfn-demo`;
const FOREIGN_RULE = {
  Id: "thumbnails",
  LambdaFunctionArn: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:thumbs`,
  Events: ["s3:ObjectCreated:*"],
  Filter: { Key: { FilterRules: [{ Name: "Prefix" as const, Value: "photos/" }] } },
} as any; // S3 answers "Prefix"/"Suffix" although the SDK types say lower case
/** S3 as it behaves: a read returns what was last written (ensureTrigger reads its write back). */
function notificationsRemembered(initial: any) {
  let current = initial;
  s3.on(GetBucketNotificationConfigurationCommand).callsFake(() => structuredClone(current));
  s3.on(PutBucketNotificationConfigurationCommand).callsFake((input) => {
    current = structuredClone(input.NotificationConfiguration);
    return {};
  });
}

const trigger = { bucket: "b", idPrefix: "imgfn-demo-", functionArn: FN_ARN, prefix: "uploads/", suffixes: [".jpg", ".png"] };

describe("bucket", () => {
  it("creates with a LocationConstraint outside us-east-1, blocks public access and tags it as made by imgfn", async () => {
    s3.on(HeadBucketCommand).rejects(awsError("NotFound", "", 404));
    const o = await ensureBucket(new S3Client({}), { bucket: "b", region: "eu-west-1", tags: { "managed-by": "imgfn" } });
    expect(o.action).toBe("create");
    expect(s3.commandCalls(CreateBucketCommand)[0].args[0].input).toEqual({ Bucket: "b", CreateBucketConfiguration: { LocationConstraint: "eu-west-1" } });
    expect(s3.commandCalls(PutPublicAccessBlockCommand)[0].args[0].input.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
    expect(s3.commandCalls(PutBucketTaggingCommand)[0].args[0].input.Tagging!.TagSet).toContainEqual({ Key: "imgfn:created-bucket", Value: "true" });
  });

  it("sends no LocationConstraint in us-east-1 (S3 refuses one there)", async () => {
    s3.on(HeadBucketCommand).rejects(awsError("NotFound", "", 404));
    await ensureBucket(new S3Client({}), { bucket: "b", region: "us-east-1", tags: {} });
    expect(s3.commandCalls(CreateBucketCommand)[0].args[0].input.CreateBucketConfiguration).toBeUndefined();
  });

  it("explains a bucket owned by another account (HeadBucket 403)", async () => {
    s3.on(HeadBucketCommand).rejects(awsError("Forbidden", "", 403));
    await expect(inspectBucket(new S3Client({}), "taken", "eu-west-1")).rejects.toThrow(/exists but belongs to another AWS account/);
    expect(s3.commandCalls(CreateBucketCommand)).toHaveLength(0);
  });

  it("explains a bucket in another region (301) and names it", async () => {
    s3.on(HeadBucketCommand).rejects(awsError("PermanentRedirect", "", 301, { $response: { headers: { "x-amz-bucket-region": "us-west-2" } } }));
    const err = await inspectBucket(new S3Client({}), "b", "eu-west-1").catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe("bucket b is in region us-west-2, not eu-west-1");
    expect(err.hint).toContain("--region us-west-2");
  });

  it("uses an existing bucket of ours without changing it", async () => {
    s3.on(HeadBucketCommand).resolves({ BucketRegion: "eu-west-1" });
    s3.on(GetBucketTaggingCommand).resolves({ TagSet: [{ Key: "imgfn:created-bucket", Value: "true" }] });
    const o = await ensureBucket(new S3Client({}), { bucket: "b", region: "eu-west-1", tags: {} });
    expect(o).toMatchObject({ action: "unchanged", state: { createdByImgfn: true } });
    expect(s3.commandCalls(CreateBucketCommand)).toHaveLength(0);
  });

  it("a bucket that appears between the check and CreateBucket (BucketAlreadyOwnedByYou) is not marked as imgfn's, nor reconfigured", async () => {
    s3.on(HeadBucketCommand).rejectsOnce(awsError("NotFound", "", 404)).resolves({ BucketRegion: "eu-west-1" });
    s3.on(CreateBucketCommand).rejects(awsError("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.", 409));
    s3.on(GetBucketTaggingCommand).rejects(awsError("NoSuchTagSet", "The TagSet does not exist", 404));
    const o = await ensureBucket(new S3Client({}), { bucket: "b", region: "eu-west-1", tags: { "managed-by": "imgfn" } });
    expect(o).toMatchObject({ action: "unchanged", changes: ["existing bucket, not created by imgfn"], state: { createdByImgfn: false } });
    expect(s3.commandCalls(PutBucketTaggingCommand)).toHaveLength(0);
    expect(s3.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);
  });
});

describe("trigger rules", () => {
  it("adds imgfn's rules and writes every foreign rule back unchanged", async () => {
    const queue = { Id: "audit", QueueArn: "arn:aws:sqs:eu-west-1:1:audit", Events: ["s3:ObjectRemoved:*"] } as any;
    notificationsRemembered({ LambdaFunctionConfigurations: [FOREIGN_RULE], QueueConfigurations: [queue], EventBridgeConfiguration: {} });
    const o = await ensureTrigger(new S3Client({}), trigger, { waiter: instantWaiter() });
    expect(o.action).toBe("create");
    const put = s3.commandCalls(PutBucketNotificationConfigurationCommand)[0].args[0].input.NotificationConfiguration!;
    expect(put.QueueConfigurations).toEqual([queue]);
    expect(put.EventBridgeConfiguration).toEqual({});
    expect(put.LambdaFunctionConfigurations).toEqual([
      FOREIGN_RULE,
      { Id: "imgfn-demo-jpg", LambdaFunctionArn: FN_ARN, Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "uploads/" }, { Name: "suffix", Value: ".jpg" }] } } },
      { Id: "imgfn-demo-png", LambdaFunctionArn: FN_ARN, Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "uploads/" }, { Name: "suffix", Value: ".png" }] } } },
    ]);
  });

  it("is unchanged (no write) when imgfn's rules already match, whatever case S3 returns filter names in", async () => {
    const ours = (suffix: string, id: string) => ({ Id: id, LambdaFunctionArn: FN_ARN, Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "Prefix" as const, Value: "uploads/" }, { Name: "Suffix" as const, Value: suffix }] } } }) as any;
    s3.on(GetBucketNotificationConfigurationCommand).resolves({ LambdaFunctionConfigurations: [FOREIGN_RULE, ours(".jpg", "imgfn-demo-jpg"), ours(".png", "imgfn-demo-png")] });
    const o = await ensureTrigger(new S3Client({}), trigger);
    expect(o).toMatchObject({ action: "unchanged", changes: ["1 other rule kept"] });
    expect(s3.commandCalls(PutBucketNotificationConfigurationCommand)).toHaveLength(0);
  });

  it("refuses an overlapping foreign rule and explains which one, writing nothing", async () => {
    const overlapping = { ...FOREIGN_RULE, Id: "resize-all", Filter: { Key: { FilterRules: [{ Name: "Prefix" as const, Value: "up" }] } } } as any;
    s3.on(GetBucketNotificationConfigurationCommand).resolves({ LambdaFunctionConfigurations: [overlapping] });
    const err = await ensureTrigger(new S3Client({}), trigger).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toContain(`rule "resize-all"`);
    expect(err.message).toContain(`prefix "up" (any suffix), which overlaps imgfn's prefix "uploads/" suffix ".jpg"`);
    expect(err.hint).toContain("inputPrefix");
    expect(s3.commandCalls(PutBucketNotificationConfigurationCommand)).toHaveLength(0);
  });

  it("does not call rules with disjoint prefixes, suffixes or event types overlapping", () => {
    const mine = ruleViews(<any>{ LambdaFunctionConfigurations: [{ Id: "m", LambdaFunctionArn: "x", Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "Prefix", Value: "uploads/" }, { Name: "Suffix", Value: ".jpg" }] } } }] });
    const rule = (events: string[], prefix: string, suffix: string) =>
      ruleViews(<any>{ TopicConfigurations: [{ Id: "t", TopicArn: "arn:t", Events: events as any, Filter: { Key: { FilterRules: [{ Name: "Prefix", Value: prefix }, { Name: "Suffix", Value: suffix }] } } }] });
    expect(findOverlaps(mine, rule(["s3:ObjectCreated:*"], "photos/", ".jpg"))).toEqual([]);
    expect(findOverlaps(mine, rule(["s3:ObjectCreated:*"], "uploads/", ".png"))).toEqual([]);
    expect(findOverlaps(mine, rule(["s3:ObjectRemoved:*"], "uploads/", ".jpg"))).toEqual([]);
    expect(findOverlaps(mine, rule(["s3:ObjectCreated:Put"], "uploads/a", "jpg"))).toHaveLength(1);
  });

  it("teardown removes only imgfn's rules", async () => {
    const ours = { Id: "imgfn-demo-jpg", LambdaFunctionArn: FN_ARN, Events: ["s3:ObjectCreated:*"] } as any;
    notificationsRemembered({ LambdaFunctionConfigurations: [FOREIGN_RULE, ours] });
    const o = await removeTrigger(new S3Client({}), "b", "imgfn-demo-", "imgfn-demo", { waiter: instantWaiter() });
    expect(o.action).toBe("delete");
    const put = s3.commandCalls(PutBucketNotificationConfigurationCommand)[0].args[0].input;
    expect(put.NotificationConfiguration).toEqual({ LambdaFunctionConfigurations: [FOREIGN_RULE] });
    // a foreign rule whose function is gone must not make S3 refuse the removal
    expect(put.SkipDestinationValidation).toBe(true);
  });

  // app "demo-2" names its rules imgfn-demo-2-…, which also start with app "demo"'s prefix imgfn-demo-
  const otherApp = (suffix: string) =>
    ({ Id: `imgfn-demo-2-${suffix.slice(1)}`, LambdaFunctionArn: `arn:aws:lambda:eu-west-1:${ACCOUNT}:function:imgfn-demo-2`, Events: ["s3:ObjectCreated:*"], Filter: { Key: { FilterRules: [{ Name: "Prefix", Value: "other/" }, { Name: "Suffix", Value: suffix }] } } }) as any;

  it("keeps another imgfn app's rules on a shared bucket, even when their Ids share imgfn's prefix", async () => {
    notificationsRemembered({ LambdaFunctionConfigurations: [otherApp(".jpg")] });
    const o = await ensureTrigger(new S3Client({}), trigger, { waiter: instantWaiter() });
    expect(o).toMatchObject({ action: "create", foreign: 1 });
    const put = s3.commandCalls(PutBucketNotificationConfigurationCommand)[0].args[0].input.NotificationConfiguration!;
    expect(put.LambdaFunctionConfigurations!.map((r) => r.Id)).toEqual(["imgfn-demo-2-jpg", "imgfn-demo-jpg", "imgfn-demo-png"]);
  });

  it("teardown removes imgfn's rules again when a writer that read before the removal brings them back", async () => {
    const ours = { Id: "imgfn-demo-jpg", LambdaFunctionArn: FN_ARN, Events: ["s3:ObjectCreated:*"] } as any;
    notificationsRemembered({ LambdaFunctionConfigurations: [FOREIGN_RULE, ours] });
    const stale = { LambdaFunctionConfigurations: [FOREIGN_RULE, ours] };
    let interleaved = false;
    const waiter = {
      ...instantWaiter(),
      sleep: async () => {
        if (interleaved) return;
        interleaved = true;
        await new S3Client({}).send(new PutBucketNotificationConfigurationCommand({ Bucket: "b", NotificationConfiguration: stale }));
      },
    };
    await removeTrigger(new S3Client({}), "b", "imgfn-demo-", "imgfn-demo", { waiter });
    const last = s3.commandCalls(PutBucketNotificationConfigurationCommand).at(-1)!.args[0].input;
    expect(last.NotificationConfiguration).toEqual({ LambdaFunctionConfigurations: [FOREIGN_RULE] });
    expect(s3.commandCalls(PutBucketNotificationConfigurationCommand)).toHaveLength(3);
  });

  it("teardown of one app leaves another app's rules with a look-alike Id", async () => {
    const ours = { Id: "imgfn-demo-jpg", LambdaFunctionArn: FN_ARN, Events: ["s3:ObjectCreated:*"] } as any;
    notificationsRemembered({ LambdaFunctionConfigurations: [otherApp(".jpg"), ours] });
    const o = await removeTrigger(new S3Client({}), "b", "imgfn-demo-", "imgfn-demo", { waiter: instantWaiter() });
    expect(o).toMatchObject({ action: "delete", changes: ["1 rule", "1 other rule kept"] });
    expect(s3.commandCalls(PutBucketNotificationConfigurationCommand)[0].args[0].input.NotificationConfiguration).toEqual({ LambdaFunctionConfigurations: [otherApp(".jpg")] });
    s3.reset();
    s3.on(GetBucketNotificationConfigurationCommand).resolves({ LambdaFunctionConfigurations: [otherApp(".jpg")] });
    expect((await removeTrigger(new S3Client({}), "b", "imgfn-demo-", "imgfn-demo")).action).toBe("absent");
    expect(s3.commandCalls(PutBucketNotificationConfigurationCommand)).toHaveLength(0);
  });
});

const ROLE = `arn:aws:iam::${ACCOUNT}:role/imgfn-demo-role`;
const request = (over: Partial<FunctionRequest> = {}): FunctionRequest => ({
  functionName: "imgfn-demo",
  roleArn: ROLE,
  imageUri: `${REPO_URI}@${DIGEST_B}`,
  architecture: "x86_64",
  memory: 1024,
  timeout: 30,
  environment: { IMGFN_INPUT_PREFIX: "uploads/" },
  tags: { "managed-by": "imgfn", "imgfn:app": "demo" },
  ...over,
});
const deployed = (digest: string, over: Record<string, unknown> = {}) => ({
  Configuration: { FunctionArn: FN_ARN, Role: ROLE, MemorySize: 1024, Timeout: 30, Architectures: ["x86_64" as const], Environment: { Variables: { IMGFN_INPUT_PREFIX: "uploads/" } }, State: "Active" as const, LastUpdateStatus: "Successful" as const, ...over },
  Code: { ImageUri: `${REPO_URI}:latest`, ResolvedImageUri: `${REPO_URI}@${digest}` },
  Tags: { "managed-by": "imgfn", "imgfn:app": "demo" },
});

describe("function", () => {
  it("compares the digest imgfn set in Code.ImageUri, not a ResolvedImageUri an emulator made up", async () => {
    lambda.on(GetFunctionCommand).resolves({ ...deployed(DIGEST_B), Code: { ImageUri: `${REPO_URI}@${DIGEST_B}`, ResolvedImageUri: `${REPO_URI}@sha256:${"e".repeat(64)}` } });
    const o = await ensureFunction(new LambdaClient({}), request(), instantWaiter());
    expect(o).toMatchObject({ action: "unchanged", changes: [] });
    expect(lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
  });

  it("retries 'The role defined for the function cannot be assumed by Lambda', showing the wait, then waits out Pending", async () => {
    lambda.on(GetFunctionCommand).rejects(awsError("ResourceNotFoundException", "Function not found: " + FN_ARN, 404));
    lambda
      .on(CreateFunctionCommand)
      .rejectsOnce(awsError("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda."))
      .rejectsOnce(awsError("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda."))
      .resolves({ FunctionArn: FN_ARN, State: "Pending" });
    lambda.on(GetFunctionConfigurationCommand).resolvesOnce({ State: "Pending" }).resolvesOnce({ State: "Pending" }).resolves({ State: "Active", LastUpdateStatus: "Successful" });
    lambda.on(GetFunctionEventInvokeConfigCommand).rejects(awsError("ResourceNotFoundException", "The function doesn't have an EventInvokeConfig", 404));
    const waiter = instantWaiter();
    const o = await ensureFunction(new LambdaClient({}), request(), waiter);
    expect(o).toMatchObject({ action: "create", functionArn: FN_ARN });
    expect(lambda.commandCalls(CreateFunctionCommand)).toHaveLength(3);
    const input = lambda.commandCalls(CreateFunctionCommand)[0].args[0].input;
    expect(input).toMatchObject({ PackageType: "Image", Code: { ImageUri: `${REPO_URI}@${DIGEST_B}` }, Architectures: ["x86_64"], Role: ROLE });
    expect(waiter.waits.filter((w) => w.includes("role")).length).toBe(2);
    expect(waiter.waits.some((w) => w.includes("State Pending"))).toBe(true);
    expect(lambda.commandCalls(GetFunctionConfigurationCommand)).toHaveLength(3);
  });

  it("gives up on role propagation after about two minutes with AWS's error", async () => {
    lambda.on(GetFunctionCommand).rejects(awsError("ResourceNotFoundException", "Function not found", 404));
    lambda.on(CreateFunctionCommand).rejects(awsError("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda."));
    const waiter = instantWaiter();
    await expect(ensureFunction(new LambdaClient({}), request(), waiter)).rejects.toThrow(/cannot be assumed by Lambda/);
    const total = waiter.slept.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThanOrEqual(120_000);
    expect(total).toBeGreaterThan(60_000);
  });

  it("updates code by digest only when the digest changed, waiting out ResourceConflictException", async () => {
    lambda.on(GetFunctionCommand).resolves(deployed(DIGEST_A));
    lambda.on(GetFunctionConfigurationCommand).resolvesOnce({ State: "Active", LastUpdateStatus: "InProgress" }).resolves({ State: "Active", LastUpdateStatus: "Successful" });
    lambda.on(GetFunctionEventInvokeConfigCommand).rejects(awsError("ResourceNotFoundException", "no config", 404));
    lambda
      .on(UpdateFunctionCodeCommand)
      .rejectsOnce(awsError("ResourceConflictException", `The operation cannot be performed at this time. An update is in progress for resource: ${FN_ARN}`, 409))
      .resolves({});
    const o = await ensureFunction(new LambdaClient({}), request(), instantWaiter());
    expect(o.action).toBe("update");
    expect(o.changes[0]).toMatch(/^image sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb/);
    const calls = lambda.commandCalls(UpdateFunctionCodeCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1].args[0].input).toEqual({ FunctionName: "imgfn-demo", ImageUri: `${REPO_URI}@${DIGEST_B}`, Architectures: ["x86_64"] });
    expect(lambda.commandCalls(UpdateFunctionConfigurationCommand)).toHaveLength(0);
  });

  it("changes nothing when digest and configuration match", async () => {
    lambda.on(GetFunctionCommand).resolves(deployed(DIGEST_B));
    lambda.on(GetFunctionEventInvokeConfigCommand).rejects(awsError("ResourceNotFoundException", "no config", 404));
    const o = await ensureFunction(new LambdaClient({}), request(), instantWaiter());
    expect(o).toMatchObject({ action: "unchanged", changes: [] });
    expect(lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
    expect(lambda.commandCalls(UpdateFunctionConfigurationCommand)).toHaveLength(0);
  });

  it("updates only the configuration that differs", async () => {
    lambda.on(GetFunctionCommand).resolves(deployed(DIGEST_B));
    lambda.on(GetFunctionConfigurationCommand).resolves({ State: "Active", LastUpdateStatus: "Successful" });
    lambda.on(GetFunctionEventInvokeConfigCommand).rejects(awsError("ResourceNotFoundException", "no config", 404));
    const o = await ensureFunction(new LambdaClient({}), request({ memory: 2048 }), instantWaiter());
    expect(o.changes).toEqual(["memory 1024 → 2048 MB"]);
    expect(lambda.commandCalls(UpdateFunctionConfigurationCommand)[0].args[0].input.MemorySize).toBe(2048);
    expect(lambda.commandCalls(UpdateFunctionCodeCommand)).toHaveLength(0);
  });

  it("repairs a function whose last update failed by deploying the image again, even with the same digest", async () => {
    const failed = { LastUpdateStatus: "Failed", LastUpdateStatusReason: "Lambda does not have permission to access the ECR image.", LastUpdateStatusReasonCode: "ImageAccessDenied" };
    lambda.on(GetFunctionCommand).resolves(deployed(DIGEST_B, failed));
    // before the update the Failed status is no reason to stop; after it the update succeeded
    lambda.on(GetFunctionConfigurationCommand).resolvesOnce({ State: "Active", ...failed } as any).resolves({ State: "Active", LastUpdateStatus: "Successful" });
    lambda.on(GetFunctionEventInvokeConfigCommand).rejects(awsError("ResourceNotFoundException", "no config", 404));
    lambda.on(UpdateFunctionCodeCommand).resolves({});
    const o = await ensureFunction(new LambdaClient({}), request(), instantWaiter());
    expect(o.action).toBe("update");
    expect(o.changes[0]).toBe("last update failed: Lambda does not have permission to access the ECR image. (ImageAccessDenied); deploying the image again");
    expect(lambda.commandCalls(UpdateFunctionCodeCommand)[0].args[0].input.ImageUri).toBe(`${REPO_URI}@${DIGEST_B}`);
  });

  it("stops with Lambda's reason and reason code when the update fails", async () => {
    lambda.on(GetFunctionCommand).resolves(deployed(DIGEST_A));
    lambda
      .on(GetFunctionConfigurationCommand)
      .resolvesOnce({ State: "Active", LastUpdateStatus: "Successful" })
      .resolves({ State: "Active", LastUpdateStatus: "Failed", LastUpdateStatusReason: "The image manifest or layer media type for the source image is not supported.", LastUpdateStatusReasonCode: "InvalidImage" });
    lambda.on(GetFunctionEventInvokeConfigCommand).rejects(awsError("ResourceNotFoundException", "no config", 404));
    lambda.on(UpdateFunctionCodeCommand).resolves({});
    const err = await ensureFunction(new LambdaClient({}), request(), instantWaiter()).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe("function imgfn-demo: update failed: The image manifest or layer media type for the source image is not supported. (InvalidImage)");
  });

  it("surfaces StateReasonCode when a new function fails to become active", async () => {
    lambda.on(GetFunctionCommand).rejects(awsError("ResourceNotFoundException", "Function not found: " + FN_ARN, 404));
    lambda.on(CreateFunctionCommand).resolves({ FunctionArn: FN_ARN, State: "Pending" });
    lambda.on(GetFunctionConfigurationCommand).resolvesOnce({ State: "Pending" }).resolves({ State: "Failed", StateReason: "Lambda does not have permission to access the ECR image.", StateReasonCode: "ImageAccessDenied" });
    const err = await ensureFunction(new LambdaClient({}), request(), instantWaiter()).catch((e) => e);
    expect(err.message).toBe("function imgfn-demo: creation failed: Lambda does not have permission to access the ECR image. (ImageAccessDenied)");
  });

  it("explains a reserved concurrency the account's pool cannot spare", async () => {
    lambda.on(GetFunctionCommand).resolves(deployed(DIGEST_B));
    lambda.on(GetFunctionEventInvokeConfigCommand).rejects(awsError("ResourceNotFoundException", "no config", 404));
    lambda.on(GetFunctionConfigurationCommand).resolves({ State: "Active", LastUpdateStatus: "Successful" });
    lambda.on(PutFunctionConcurrencyCommand).rejects(awsError("InvalidParameterValueException", "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [10]."));
    const err = await ensureFunction(new LambdaClient({}), request({ reservedConcurrency: 5 }), instantWaiter()).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/^cannot reserve 5 concurrent executions for imgfn-demo: the account's unreserved pool would drop below Lambda's minimum/);
    expect(err.hint).toContain('lower "reservedConcurrency"');
  });

  it("refuses a same-named function that imgfn did not create", async () => {
    lambda.on(GetFunctionCommand).resolves({ ...deployed(DIGEST_A), Tags: { team: "other" } });
    await expect(ensureFunction(new LambdaClient({}), request(), instantWaiter())).rejects.toThrow(/exists but was not created by imgfn/);
  });
});

describe("async invocations", () => {
  const events = { functionName: "imgfn-demo", retries: 1, maxEventAgeSeconds: 21600, onFailure: `arn:aws:sqs:eu-west-1:${ACCOUNT}:imgfn-demo-failed` };

  it("waits while the role's new sqs:SendMessage grant propagates (Lambda checks it), then sets retries, age and the failure queue", async () => {
    lambda.on(GetFunctionEventInvokeConfigCommand).rejects(awsError("ResourceNotFoundException", "The function imgfn-demo doesn't have an EventInvokeConfig", 404));
    lambda
      .on(PutFunctionEventInvokeConfigCommand)
      .rejectsOnce(awsError("InvalidParameterValueException", `The function's execution role does not have permissions to call SendMessage on ${events.onFailure}`))
      .resolves({});
    const waiter = instantWaiter();
    const o = await ensureEventInvokeConfig(new LambdaClient({}), events, waiter);
    expect(o).toMatchObject({ action: "create", changes: ["retries 2 → 1", "failed events → imgfn-demo-failed"] });
    expect(waiter.waits[0]).toMatch(/^waiting for the role's sqs:SendMessage grant to apply/);
    expect(lambda.commandCalls(PutFunctionEventInvokeConfigCommand)[1].args[0].input).toEqual({
      FunctionName: "imgfn-demo",
      MaximumRetryAttempts: 1,
      MaximumEventAgeInSeconds: 21600,
      DestinationConfig: { OnFailure: { Destination: events.onFailure } },
    });
  });

  it("is unchanged when the configuration already matches, and names a destination someone else set", async () => {
    lambda.on(GetFunctionEventInvokeConfigCommand).resolves({ MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 21600, DestinationConfig: { OnFailure: { Destination: events.onFailure } } });
    expect(await ensureEventInvokeConfig(new LambdaClient({}), events, instantWaiter(), { dryRun: true })).toMatchObject({ action: "unchanged" });
    lambda.on(GetFunctionEventInvokeConfigCommand).resolves({ MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 21600, DestinationConfig: { OnFailure: { Destination: "arn:aws:sqs:eu-west-1:1:elsewhere" } } });
    expect((await ensureEventInvokeConfig(new LambdaClient({}), events, instantWaiter(), { dryRun: true })).changes).toEqual(["failed events → imgfn-demo-failed (was elsewhere)"]);
    expect(lambda.commandCalls(PutFunctionEventInvokeConfigCommand)).toHaveLength(0);
  });
});

describe("invoke permission", () => {
  const req = { functionName: "imgfn-demo", statementId: "imgfn-demo-s3-invoke", bucketArn: "arn:aws:s3:::b", account: ACCOUNT };
  const statement = (bucketArn: string) => ({
    Sid: "imgfn-demo-s3-invoke",
    Effect: "Allow",
    Principal: { Service: "s3.amazonaws.com" },
    Action: "lambda:InvokeFunction",
    Resource: FN_ARN,
    Condition: { StringEquals: { "AWS:SourceAccount": ACCOUNT }, ArnLike: { "AWS:SourceArn": bucketArn } },
  });

  it("adds it with SourceArn and SourceAccount when absent", async () => {
    lambda.on(GetPolicyCommand).rejects(awsError("ResourceNotFoundException", "The resource you requested does not exist.", 404));
    expect((await ensureInvokePermission(new LambdaClient({}), req, instantWaiter())).action).toBe("create");
    expect(lambda.commandCalls(AddPermissionCommand)[0].args[0].input).toEqual({
      FunctionName: "imgfn-demo",
      StatementId: "imgfn-demo-s3-invoke",
      Action: "lambda:InvokeFunction",
      Principal: "s3.amazonaws.com",
      SourceArn: "arn:aws:s3:::b",
      SourceAccount: ACCOUNT,
    });
  });

  it("is not duplicated when the statement exists", async () => {
    lambda.on(GetPolicyCommand).resolves({ Policy: JSON.stringify({ Version: "2012-10-17", Statement: [statement("arn:aws:s3:::b")] }) });
    expect((await ensureInvokePermission(new LambdaClient({}), req, instantWaiter())).action).toBe("unchanged");
    expect(lambda.commandCalls(AddPermissionCommand)).toHaveLength(0);
  });

  it("treats 'statement id already exists' from a concurrent run as done", async () => {
    lambda.on(GetPolicyCommand).rejects(awsError("ResourceNotFoundException", "The resource you requested does not exist.", 404));
    lambda.on(AddPermissionCommand).rejects(awsError("ResourceConflictException", "The statement id (imgfn-demo-s3-invoke) provided already exists. Please provide a new statement id, or remove the existing statement.", 409));
    expect((await ensureInvokePermission(new LambdaClient({}), req, instantWaiter())).action).toBe("unchanged");
    expect(lambda.commandCalls(AddPermissionCommand)).toHaveLength(1);
  });

  it("replaces a statement pointing at another bucket", async () => {
    lambda.on(GetPolicyCommand).resolves({ Policy: JSON.stringify({ Statement: [statement("arn:aws:s3:::old")] }) });
    expect((await ensureInvokePermission(new LambdaClient({}), req, instantWaiter())).action).toBe("update");
    expect(lambda.commandCalls(RemovePermissionCommand)).toHaveLength(1);
    expect(lambda.commandCalls(AddPermissionCommand)[0].args[0].input.SourceArn).toBe("arn:aws:s3:::b");
  });
});
