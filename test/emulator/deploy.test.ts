/**
 * deploy → status → redeploy → teardown against moto_server (the AWS control planes) and a real
 * registry, through the built CLI, reading the result back with the SDK. What moto cannot show
 * (IAM propagation delays, Pending states, throttling) stays in the aws-sdk-client-mock tests.
 */
import { fileURLToPath } from "node:url";
import { DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { DescribeRepositoriesCommand } from "@aws-sdk/client-ecr";
import { GetRolePolicyCommand, GetRoleCommand } from "@aws-sdk/client-iam";
import { GetFunctionCommand, GetFunctionEventInvokeConfigCommand, ListFunctionsCommand } from "@aws-sdk/client-lambda";
import { CreateBucketCommand, GetBucketNotificationConfigurationCommand, GetBucketTaggingCommand, HeadObjectCommand, PutBucketNotificationConfigurationCommand } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ListQueuesCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULTS, triggerFilters } from "../../src/config.js";
import { motoUnavailable } from "../helpers/moto.js";
import { ACCOUNT, json, REGION, startWorld, type World, EMULATOR_TEST_TIMEOUT } from "./world.js";

const unavailable = motoUnavailable();
let w: World;

/** imgfn's rules for the default suffixes (one per suffix). */
const RULES = DEFAULTS.suffixes.length;
const SAMPLE = fileURLToPath(new URL("../../samples/cat.jpg", import.meta.url));
const fnArn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
const getFn = (name: string) => w.aws.lambda.send(new GetFunctionCommand({ FunctionName: name }));
const notifications = async (bucket: string) => {
  const { $metadata: _, ...rest } = await w.aws.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
  return rest;
};
const exists = (p: Promise<unknown>) => p.then(() => true, () => false);

/** A bucket made outside imgfn, holding a foreign SQS rule and a foreign Lambda rule. */
async function foreignBucket(name: string, opts: { lambdaPrefix?: string; lambdaSuffix?: string } = {}) {
  await w.aws.s3.send(new CreateBucketCommand({ Bucket: name }));
  const queue = await w.aws.sqs.send(new CreateQueueCommand({ QueueName: `${name}-audit` }));
  const queueArn = `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}-audit`;
  expect(queue.QueueUrl).toBeTruthy();
  const config = {
    QueueConfigurations: [{ Id: "audit-log", QueueArn: queueArn, Events: ["s3:ObjectRemoved:*" as const] }],
    LambdaFunctionConfigurations: [
      {
        Id: "thumbnails",
        LambdaFunctionArn: fnArn("thumbs"),
        Events: ["s3:ObjectCreated:*" as const],
        Filter: { Key: { FilterRules: [{ Name: "prefix" as const, Value: opts.lambdaPrefix ?? "photos/" }, ...(opts.lambdaSuffix ? [{ Name: "suffix" as const, Value: opts.lambdaSuffix }] : [])] } },
      },
    ],
  };
  await w.aws.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: name, NotificationConfiguration: config }));
  return notifications(name);
}

describe.skipIf(unavailable)("imgfn against moto_server and a real registry", { timeout: EMULATOR_TEST_TIMEOUT }, () => {
  beforeAll(async () => {
    w = await startWorld();
  }, 120_000);
  afterAll(async () => w?.close());

  describe("one app's life: deploy, redeploy, config change, failed events, teardown twice", () => {
    let dir: string;
    const bucket = `imgfn-life-${ACCOUNT}-${REGION}`;
    let first: any;

    it("first deploy creates every resource, with the failure queue, the async config and the role's grants; verify is skipped and says why", async () => {
      dir = w.project({ app: "life", retries: 1 });
      const r = await w.cli(dir, ["deploy"]);
      expect(r.stderr).not.toMatch(/error:/);
      expect(r.code).toBe(0);
      // moto cannot run a container-image function: said, not pretended
      expect(r.stderr).toMatch(/warning: verify skipped: .* is moto_server, which cannot run container-image functions: the function was not invoked, so this deployment is unverified/);
      expect(r.stdout).not.toMatch(/verified\s+cat/);

      const fn = await getFn("imgfn-life");
      first = fn;
      expect(fn.Code?.ImageUri).toMatch(new RegExp(`^${ACCOUNT}\\.dkr\\.ecr\\.${REGION}\\.amazonaws\\.com/imgfn-life@sha256:[0-9a-f]{64}$`));
      expect(fn.Tags).toMatchObject({ "managed-by": "imgfn", "imgfn:app": "life" });
      expect(fn.Configuration?.Environment?.Variables).toMatchObject({ IMGFN_BUCKET: bucket, ORT_DISABLE_TELEMETRY: "1", IMGFN_S3_FORCE_PATH_STYLE: "1" });
      // the image is in the registry under the repository's path; its config turns onnxruntime's telemetry off too
      expect(await w.catalog()).toContain("imgfn-life");
      const { RegistryClient } = await import("../../src/image/registry.js");
      const registry = new RegistryClient(w.registry.host);
      try {
        const manifest = await registry.getManifest("imgfn-life", fn.Code!.ImageUri!.split("@")[1]);
        const imageConfig = JSON.parse((await registry.getBlob("imgfn-life", manifest.json.config.digest)).toString("utf8"));
        expect(imageConfig.config.Env).toContain("ORT_DISABLE_TELEMETRY=1");
      } finally {
        await registry.close();
      }

      const queueUrl = (await w.aws.sqs.send(new GetQueueUrlCommand({ QueueName: "imgfn-life-failed" }))).QueueUrl!;
      const attrs = (await w.aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["All"] }))).Attributes!;
      expect(attrs.SqsManagedSseEnabled).toBe("true");
      expect(attrs.MessageRetentionPeriod).toBe(String(14 * 24 * 3600));
      const queueArn = `arn:aws:sqs:${REGION}:${ACCOUNT}:imgfn-life-failed`;
      expect(JSON.parse(attrs.Policy!).Statement).toEqual([
        { Sid: "FunctionSendsFailedEvents", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/imgfn-life-role` }, Action: "sqs:SendMessage", Resource: queueArn },
        { Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "sqs:*", Resource: queueArn, Condition: { Bool: { "aws:SecureTransport": "false" } } },
      ]);

      const events = await w.aws.lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: "imgfn-life" }));
      expect(events).toMatchObject({ MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 6 * 3600, DestinationConfig: { OnFailure: { Destination: queueArn } } });

      const policy = JSON.parse(decodeURIComponent((await w.aws.iam.send(new GetRolePolicyCommand({ RoleName: "imgfn-life-role", PolicyName: "imgfn-life-s3-logs" }))).PolicyDocument!));
      const bySid = Object.fromEntries(policy.Statement.map((s: any) => [s.Sid, s]));
      expect(bySid.ListUploads).toEqual({ Sid: "ListUploads", Effect: "Allow", Action: "s3:ListBucket", Resource: `arn:aws:s3:::${bucket}`, Condition: { StringLike: { "s3:prefix": ["uploads/*"] } } });
      expect(bySid.SendFailedEvents).toEqual({ Sid: "SendFailedEvents", Effect: "Allow", Action: "sqs:SendMessage", Resource: queueArn });
      // sqs:SendMessage on that queue only, nothing else of SQS
      expect(policy.Statement.filter((s: any) => JSON.stringify(s.Action).includes("sqs:"))).toEqual([bySid.SendFailedEvents]);

      const rules = (await notifications(bucket)).LambdaFunctionConfigurations ?? [];
      expect(rules.map((r) => r.Id).sort()).toEqual(triggerFilters("imgfn-life-", "uploads/", DEFAULTS.suffixes).map((f) => f.id).sort());
      expect(new Set(rules.map((r) => r.LambdaFunctionArn))).toEqual(new Set([fnArn("imgfn-life")]));
      const group = (await w.aws.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: "/aws/lambda/imgfn-life" }))).logGroups?.[0];
      expect(group?.retentionInDays).toBe(14);
      const tags = (await w.aws.s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet ?? [];
      expect(tags).toContainEqual({ Key: "imgfn:created-bucket", Value: "true" });
    });

    it("a dry run with nothing changed says so", async () => {
      const r = await w.cli(dir, ["deploy", "--dry-run"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^No changes: imgfn-life in us-east-1, account 123456789012, already matches the config\. Nothing was changed\./);
      expect(r.stdout).toMatch(/=\s+image\s+unchanged\s+imgfn-life\s+the same image/);
      expect(r.stdout).toContain("0 to create, 0 to update, 10 unchanged.");
    });

    it("a redeploy with nothing changed reports changed: false, pushes nothing and updates nothing", async () => {
      const r = await w.cli(dir, ["deploy", "--json"]);
      expect(r.code).toBe(0);
      const report = json(r);
      expect(report.changed).toBe(false);
      expect(report.verifySkipped).toMatch(/moto_server/);
      for (const s of report.steps.filter((s: any) => s.step !== "verify")) expect(`${s.step}:${s.action}`).toBe(`${s.step}:unchanged`);
      expect(report.steps.find((s: any) => s.step === "image").changes).toEqual([expect.stringMatching(/, nothing pushed$/)]);
      // no update call reached the function: same revision, same modification time
      const fn = await getFn("imgfn-life");
      expect(fn.Configuration?.RevisionId).toBe(first.Configuration?.RevisionId);
      expect(fn.Configuration?.LastModified).toBe(first.Configuration?.LastModified);
      expect(fn.Code?.ImageUri).toBe(first.Code?.ImageUri);
    });

    it("a memory change updates the configuration only, never the code", async () => {
      const r = await w.cli(dir, ["deploy", "--json", "--memory", "1536"]);
      expect(r.code).toBe(0);
      const report = json(r);
      expect(report.changed).toBe(true);
      const fnStep = report.steps.find((s: any) => s.step === "function");
      expect(fnStep).toMatchObject({ action: "update", changes: ["memory 1024 → 1536 MB"] });
      expect(report.steps.find((s: any) => s.step === "image").action).toBe("unchanged");
      const fn = await getFn("imgfn-life");
      expect(fn.Configuration?.MemorySize).toBe(1536);
      expect(fn.Code?.ImageUri).toBe(first.Code?.ImageUri);
    });

    it("status shows the failed events waiting; teardown refuses a non-empty failure queue without --force and deletes nothing", async () => {
      const queueUrl = (await w.aws.sqs.send(new GetQueueUrlCommand({ QueueName: "imgfn-life-failed" }))).QueueUrl!;
      // what Lambda's on-failure destination sends after the last retry
      await w.aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ requestContext: { condition: "RetriesExhausted", approximateInvokeCount: 2 }, requestPayload: { Records: [{ s3: { bucket: { name: bucket }, object: { key: "uploads/broken.jpg" } } }] } }) }));

      const s = await w.cli(dir, ["status", "--json"]);
      expect(s.code).toBe(0);
      expect(json(s)).toMatchObject({ deployed: true, bucket, failedEvents: 1, failureQueue: "imgfn-life-failed" });
      const human = await w.cli(dir, ["status"]);
      expect(human.stdout).toMatch(/failed events\s+1 waiting in imgfn-life-failed/);

      const t = await w.cli(dir, ["--yes", "teardown"]);
      expect(t.code).toBe(1);
      expect(t.stderr).toContain("error: the failure queue imgfn-life-failed holds 1 failed event; deleting it would lose it, so teardown stopped before deleting anything");
      expect(t.stderr).toMatch(/next step: .*--force/);
      expect(await exists(getFn("imgfn-life"))).toBe(true);
      expect((await notifications(bucket)).LambdaFunctionConfigurations).toHaveLength(RULES);
    });

    it("teardown --force removes everything imgfn made, and a second teardown finds nothing to do", async () => {
      const t = await w.cli(dir, ["--yes", "teardown", "--force", "--json"]);
      expect(t.stderr).not.toMatch(/error:/);
      expect(t.code).toBe(0);
      const items = Object.fromEntries(json(t).items.map((i: any) => [i.step, i]));
      expect(items["failure-queue"]).toMatchObject({ action: "delete", changes: ["and its 1 failed event (--force)"] });
      expect(await exists(getFn("imgfn-life"))).toBe(false);
      expect(await exists(w.aws.iam.send(new GetRoleCommand({ RoleName: "imgfn-life-role" })))).toBe(false);
      expect(await exists(w.aws.sqs.send(new GetQueueUrlCommand({ QueueName: "imgfn-life-failed" })))).toBe(false);
      expect(await exists(w.aws.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ["imgfn-life"] })))).toBe(false);
      expect((await w.aws.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: "/aws/lambda/imgfn-life" }))).logGroups).toEqual([]);
      expect((await notifications(bucket)).LambdaFunctionConfigurations ?? []).toEqual([]);

      const again = await w.cli(dir, ["--yes", "teardown"]);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('Nothing to tear down: no imgfn resources for app "life"');
    });
  });

  describe("deploy --bucket X", () => {
    it("records X with the function; upload, logs, status and teardown find it there; X keeps exactly its foreign SQS and Lambda rules", async () => {
      const x = "shared-photos-x";
      const before = await foreignBucket(x);
      // the config names a base image nobody can reach: --base-image overrides it
      const dir = w.project({ app: "onx", baseImage: "registry.invalid/lambda/nodejs:22" });
      const d = await w.cli(dir, ["deploy", "--bucket", x, "--base-image", w.baseImage, "--json"]);
      expect(d.stderr).not.toMatch(/error:/);
      expect(d.code).toBe(0);
      expect(json(d).steps.find((s: any) => s.step === "bucket")).toMatchObject({ action: "unchanged", changes: ["existing bucket, not created by imgfn"] });
      expect(json(d).steps.find((s: any) => s.step === "trigger").changes).toContain("2 other rules kept");
      expect((await getFn("imgfn-onx")).Configuration?.Environment?.Variables?.IMGFN_BUCKET).toBe(x);
      const during = await notifications(x);
      expect(during.QueueConfigurations).toEqual(before.QueueConfigurations);
      expect(during.LambdaFunctionConfigurations?.filter((r) => r.Id === "thumbnails")).toEqual(before.LambdaFunctionConfigurations);

      // without --bucket: the commands read the bucket from the deployed function
      const s = await w.cli(dir, ["status", "--json"]);
      expect(s.code).toBe(0);
      expect(json(s)).toMatchObject({ bucket: x, drift: [], trigger: { foreign: 2 } });
      expect(json(s).trigger.ours).toHaveLength(RULES);
      const withFlag = await w.cli(dir, ["status", "--json", "--bucket", x]);
      expect(json(withFlag)).toMatchObject({ bucket: x, drift: [] });

      const up = await w.cli(dir, ["upload", "--no-wait", "--json", SAMPLE]);
      expect(up.stderr).not.toMatch(/error:/);
      expect(up.code).toBe(0);
      expect(await exists(w.aws.s3.send(new HeadObjectCommand({ Bucket: x, Key: "uploads/cat.jpg" })))).toBe(true);
      const logs = await w.cli(dir, ["logs", "--since", "10m"]);
      expect(logs.stderr).not.toMatch(/error:/);
      expect(logs.code).toBe(0);

      // a later deploy without the flag stays on X: nothing changes
      const again = await w.cli(dir, ["deploy", "--base-image", w.baseImage, "--json"]);
      expect(json(again)).toMatchObject({ bucket: x, changed: false });

      const t = await w.cli(dir, ["--yes", "teardown"]);
      expect(t.code).toBe(0);
      expect(t.stderr).toContain(`Trigger rules: s3://${x}: deleted (${RULES} rules; 2 other rules kept)`);
      expect(await notifications(x)).toEqual(before);
    });

    it("moving to another bucket takes imgfn's rules off the old one, which keeps exactly its foreign rules", async () => {
      const from = "move-from";
      const before = await foreignBucket(from);
      await w.aws.s3.send(new CreateBucketCommand({ Bucket: "move-to" }));
      const dir = w.project({ app: "mover" });
      expect((await w.cli(dir, ["deploy", "--bucket", from])).code).toBe(0);
      const moved = await w.cli(dir, ["deploy", "--bucket", "move-to", "--json"]);
      expect(moved.code).toBe(0);
      expect(json(moved).steps.find((s: any) => s.step === "old-trigger")).toMatchObject({ action: "delete", resource: `s3://${from}` });
      expect(await notifications(from)).toEqual(before);
      expect((await notifications("move-to")).LambdaFunctionConfigurations).toHaveLength(RULES);
      expect((await getFn("imgfn-mover")).Configuration?.Environment?.Variables?.IMGFN_BUCKET).toBe("move-to");
      expect((await w.cli(dir, ["--yes", "teardown"])).code).toBe(0);
      expect((await notifications("move-to")).LambdaFunctionConfigurations ?? []).toEqual([]);
    });
  });

  describe("refusals come before the first change", () => {
    it("an overlapping foreign rule: no role, function, repository, log group, queue or image is left", async () => {
      const y = "overlap-y";
      const before = await foreignBucket(y, { lambdaPrefix: "uploads/", lambdaSuffix: ".jpg" });
      const dir = w.project({ app: "clash", bucket: y });
      const r = await w.cli(dir, ["deploy"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/error: the trigger for s3:\/\/overlap-y\/uploads\/ would overlap existing notification rules: rule "thumbnails" \(lambda .*function:thumbs\)/);
      expect(r.stderr).toMatch(/next step: use a different "inputPrefix"/);
      expect(await exists(getFn("imgfn-clash"))).toBe(false);
      expect(await exists(w.aws.iam.send(new GetRoleCommand({ RoleName: "imgfn-clash-role" })))).toBe(false);
      expect(await exists(w.aws.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ["imgfn-clash"] })))).toBe(false);
      expect((await w.aws.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: "/aws/lambda/imgfn-clash" }))).logGroups).toEqual([]);
      expect((await w.aws.sqs.send(new ListQueuesCommand({ QueueNamePrefix: "imgfn-clash" }))).QueueUrls ?? []).toEqual([]);
      expect(await w.catalog()).not.toContain("imgfn-clash");
      expect(await notifications(y)).toEqual(before);
    });

    it("deploy --image with a multi-platform index, or an index with an attestation manifest, is refused before any Lambda call", async () => {
      const dir = w.project({ app: "byimage" });
      const index = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/lambda/nodejs@${w.baseIndexDigest}`;
      const r = await w.cli(dir, ["deploy", "--image", index]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/error: image refused before deploy: it is a multi-platform image index \(linux\/amd64, linux\/arm64\)/);
      expect(r.stderr).toMatch(/next step: rebuild for one platform: docker buildx build --platform linux\/amd64 --provenance=false/);

      const attested = await pushAttestedIndex(w);
      const r2 = await w.cli(dir, ["deploy", "--image", `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/lambda/nodejs@${attested}`]);
      expect(r2.code).toBe(1);
      expect(r2.stderr).toMatch(/error: image refused before deploy: it is an image index with 1 attestation manifest \(provenance\/SBOM\) beside linux\/amd64/);
      expect((await w.aws.lambda.send(new ListFunctionsCommand({}))).Functions?.map((f) => f.FunctionName)).not.toContain("imgfn-byimage");
      expect(await exists(w.aws.iam.send(new GetRoleCommand({ RoleName: "imgfn-byimage-role" })))).toBe(false);
      expect(await exists(w.aws.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ["imgfn-byimage"] })))).toBe(false);

      // a single-platform linux/amd64 image passes the same preflight and is deployed as given, without a build
      const single = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/lambda/nodejs@${w.basePlatforms.amd64}`;
      const ok = await w.cli(dir, ["deploy", "--image", single, "--json"]);
      expect(ok.stderr).not.toMatch(/error:/);
      expect(ok.code).toBe(0);
      expect(json(ok).steps.find((s: any) => s.step === "image")).toMatchObject({ action: "create", changes: [expect.stringMatching(/\(--image\)$/)] });
      expect((await getFn("imgfn-byimage")).Code?.ImageUri).toBe(single);
      expect(await w.catalog()).not.toContain("imgfn-byimage");
    });
  });
});

/** A buildx-style index: the linux/amd64 image plus an attestation manifest (unknown/unknown). */
async function pushAttestedIndex(world: World): Promise<string> {
  const { RegistryClient, sha256 } = await import("../../src/image/registry.js");
  const client = new RegistryClient(world.registry.host);
  try {
    const index = (await client.getManifest("lambda/nodejs", world.baseIndexDigest)).json;
    const [amd64, other] = index.manifests;
    const attested = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        { ...amd64 },
        { mediaType: other.mediaType, digest: other.digest, size: other.size, platform: { os: "unknown", architecture: "unknown" }, annotations: { "vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": amd64.digest } },
      ],
    };
    const bytes = Buffer.from(JSON.stringify(attested));
    await client.putManifest("lambda/nodejs", "attested", bytes, attested.mediaType);
    return sha256(bytes);
  } finally {
    await client.close();
  }
}
