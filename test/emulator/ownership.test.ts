/**
 * imgfn changes and deletes only what carries its tags, and every refusal comes before the first
 * change; two apps on one bucket keep each other's rules. Against moto_server, through the CLI.
 */
import { CreateLogGroupCommand, DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CreateRepositoryCommand, GetLifecyclePolicyCommand } from "@aws-sdk/client-ecr";
import { CreateRoleCommand, GetRoleCommand } from "@aws-sdk/client-iam";
import { AddPermissionCommand, CreateFunctionCommand, GetFunctionCommand, GetPolicyCommand } from "@aws-sdk/client-lambda";
import { CreateBucketCommand, GetBucketNotificationConfigurationCommand, HeadBucketCommand, PutBucketNotificationConfigurationCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { desiredRules, ensureTrigger } from "../../src/aws/s3.js";
import { DEFAULTS } from "../../src/config.js";
import { motoUnavailable } from "../helpers/moto.js";
import { ACCOUNT, json, REGION, startWorld, type World, EMULATOR_TEST_TIMEOUT } from "./world.js";

const unavailable = motoUnavailable();
let w: World;
const exists = (p: Promise<unknown>) => p.then(() => true, () => false);
const notifications = async (bucket: string) => {
  const { $metadata: _, ...rest } = await w.aws.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
  return rest;
};
const TRUST = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }] });

/** Nothing of app `app` was made: no bucket, role, function, queue, log group or image. */
async function nothingMade(app: string, bucket = `imgfn-${app}-${ACCOUNT}-${REGION}`) {
  expect(await exists(w.aws.s3.send(new HeadBucketCommand({ Bucket: bucket })))).toBe(false);
  expect(await exists(w.aws.lambda.send(new GetFunctionCommand({ FunctionName: `imgfn-${app}` })))).toBe(false);
  expect((await w.aws.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: `/aws/lambda/imgfn-${app}` }))).logGroups ?? []).toEqual([]);
  expect(await w.catalog()).not.toContain(`imgfn-${app}`);
}

describe.skipIf(unavailable)("ownership and refusals against moto_server", { timeout: EMULATOR_TEST_TIMEOUT }, () => {
  beforeAll(async () => {
    w = await startWorld();
  }, 120_000);
  afterAll(async () => w?.close());

  it("an untagged ECR repository of the same name is refused, not adopted: no lifecycle rule, nothing else made", async () => {
    await w.aws.ecr.send(new CreateRepositoryCommand({ repositoryName: "imgfn-repo" }));
    const r = await w.cli(w.project({ app: "repo" }), ["deploy"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: ECR repository imgfn-repo exists but is not tagged as imgfn's; imgfn changes only what carries its tags");
    expect(r.stderr).toMatch(/next step: choose another "app" name in imgfn\.config\.json; or, .* tag it: aws ecr tag-resource --resource-arn arn:aws:ecr:us-east-1:123456789012:repository\/imgfn-repo --tags Key=imgfn:app,Value=repo Key=managed-by,Value=imgfn/);
    await expect(w.aws.ecr.send(new GetLifecyclePolicyCommand({ repositoryName: "imgfn-repo" }))).rejects.toMatchObject({ name: "LifecyclePolicyNotFoundException" });
    await nothingMade("repo");
    expect(await exists(w.aws.iam.send(new GetRoleCommand({ RoleName: "imgfn-repo-role" })))).toBe(false);
  });

  it("an untagged role of the same name is refused, its trust policy untouched", async () => {
    await w.aws.iam.send(new CreateRoleCommand({ RoleName: "imgfn-role-role", AssumeRolePolicyDocument: TRUST }));
    const r = await w.cli(w.project({ app: "role" }), ["deploy"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: IAM role imgfn-role-role exists but is not tagged as imgfn's; imgfn changes only what carries its tags");
    expect(r.stderr).toContain("aws iam tag-role --role-name imgfn-role-role --tags Key=imgfn:app,Value=role Key=managed-by,Value=imgfn");
    const role = (await w.aws.iam.send(new GetRoleCommand({ RoleName: "imgfn-role-role" }))).Role!;
    expect(JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument!)).Statement[0].Principal).toEqual({ Service: "ec2.amazonaws.com" });
    await nothingMade("role");
  });

  it("an untagged log group of the same name is refused before anything is made", async () => {
    await w.aws.logs.send(new CreateLogGroupCommand({ logGroupName: "/aws/lambda/imgfn-logs" }));
    const r = await w.cli(w.project({ app: "logs" }), ["deploy"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: log group /aws/lambda/imgfn-logs exists but is not tagged as imgfn's");
    expect(await exists(w.aws.s3.send(new HeadBucketCommand({ Bucket: `imgfn-logs-${ACCOUNT}-${REGION}` })))).toBe(false);
    expect(await w.catalog()).not.toContain("imgfn-logs");
  });

  it("a bucket in another region is refused before anything is made", async () => {
    const far = new S3Client({ region: "eu-west-1", endpoint: w.moto.endpoint, forcePathStyle: true });
    await far.send(new CreateBucketCommand({ Bucket: "far-away-photos", CreateBucketConfiguration: { LocationConstraint: "eu-west-1" } }));
    const r = await w.cli(w.project({ app: "far" }), ["deploy", "--bucket", "far-away-photos"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: bucket far-away-photos is in region eu-west-1, not us-east-1");
    expect(r.stderr).toContain("next step: deploy to its region with --region eu-west-1");
    await nothingMade("far");
  });

  it("teardown leaves a same-named function that is not imgfn's, with its policy statement and log group", async () => {
    const role = await w.aws.iam.send(new CreateRoleCommand({ RoleName: "someone-elses-role", AssumeRolePolicyDocument: TRUST }));
    await w.aws.lambda.send(new CreateFunctionCommand({ FunctionName: "imgfn-theirs", PackageType: "Image", Code: { ImageUri: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/theirs@sha256:${"c".repeat(64)}` }, Role: role.Role!.Arn! }));
    await w.aws.lambda.send(new AddPermissionCommand({ FunctionName: "imgfn-theirs", StatementId: "imgfn-theirs-s3-invoke", Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com", SourceArn: "arn:aws:s3:::their-bucket" }));
    await w.aws.logs.send(new CreateLogGroupCommand({ logGroupName: "/aws/lambda/imgfn-theirs" }));
    const dir = w.project({ app: "theirs" });
    const d = await w.cli(dir, ["deploy"]);
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/error: (a Lambda function named imgfn-theirs exists but was not created by imgfn|log group \/aws\/lambda\/imgfn-theirs exists but is not tagged as imgfn's)/);

    const t = await w.cli(dir, ["--yes", "teardown", "--json"]);
    expect(t.code).toBe(0);
    const items = Object.fromEntries(json(t).items.map((i: any) => [i.step, i]));
    expect(items.function).toMatchObject({ action: "skip", changes: ["not tagged as imgfn's; left alone"] });
    expect(items.permission).toMatchObject({ action: "skip" });
    expect(items["log-group"]).toMatchObject({ action: "skip", changes: ["not tagged as imgfn's; left alone"] });
    expect(await exists(w.aws.lambda.send(new GetFunctionCommand({ FunctionName: "imgfn-theirs" })))).toBe(true);
    expect(JSON.parse((await w.aws.lambda.send(new GetPolicyCommand({ FunctionName: "imgfn-theirs" }))).Policy!).Statement.map((s: any) => s.Sid)).toEqual(["imgfn-theirs-s3-invoke"]);
    expect((await w.aws.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: "/aws/lambda/imgfn-theirs" }))).logGroups).toHaveLength(1);
  });

  describe("two apps on one bucket", () => {
    it("deploying at once, each keeps the other's rules (read back and merged)", async () => {
      await w.aws.s3.send(new CreateBucketCommand({ Bucket: "team-photos" }));
      const alpha = w.project({ app: "alpha", bucket: "team-photos", inputPrefix: "alpha/", outputPrefix: "alpha-results/" });
      const beta = w.project({ app: "beta", bucket: "team-photos", inputPrefix: "beta/", outputPrefix: "beta-results/" });
      const [a, b] = await Promise.all([w.cli(alpha, ["deploy", "--json"]), w.cli(beta, ["deploy", "--json"])]);
      expect(a.stderr).not.toMatch(/error:/);
      expect(b.stderr).not.toMatch(/error:/);
      expect([a.code, b.code]).toEqual([0, 0]);
      const rules = (await notifications("team-photos")).LambdaFunctionConfigurations ?? [];
      const by = (fn: string) => rules.filter((r) => r.LambdaFunctionArn!.endsWith(`:function:${fn}`)).length;
      expect([by("imgfn-alpha"), by("imgfn-beta")]).toEqual([DEFAULTS.suffixes.length, DEFAULTS.suffixes.length]);
      // each status finds its own rules and no drift
      for (const dir of [alpha, beta]) expect(json(await w.cli(dir, ["status", "--json"]))).toMatchObject({ drift: [], trigger: { foreign: DEFAULTS.suffixes.length } });
    });

    it("a writer that saved what it had read before imgfn's write does not leave imgfn's rules dropped", async () => {
      // deterministic interleaving on the real server: right after imgfn's write, another app
      // writes back the configuration it read earlier (its own rules, without imgfn's)
      await w.aws.s3.send(new CreateBucketCommand({ Bucket: "race-photos" }));
      const fnArn = (app: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:imgfn-${app}`;
      const other = desiredRules({ bucket: "race-photos", idPrefix: "imgfn-other-", functionArn: fnArn("other"), prefix: "other/", suffixes: [".jpg"] });
      let interleaved = false;
      const waits: string[] = [];
      const o = await ensureTrigger(
        w.aws.s3,
        { bucket: "race-photos", idPrefix: "imgfn-mine-", functionArn: fnArn("mine"), prefix: "mine/", suffixes: [".jpg", ".png"] },
        {
          waiter: {
            sleep: async () => {
              if (interleaved) return;
              interleaved = true;
              await w.aws.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: "race-photos", NotificationConfiguration: { LambdaFunctionConfigurations: other } }));
            },
            onWait: (m) => void waits.push(m),
          },
        },
      );
      expect(waits).toEqual(["another writer changed the notification configuration of race-photos; merging again"]);
      expect(o.changes).toContain("merged again 1 time after another writer");
      const ids = ((await notifications("race-photos")).LambdaFunctionConfigurations ?? []).map((r) => r.Id).sort();
      expect(ids).toEqual(["imgfn-mine-jpg", "imgfn-mine-png", "imgfn-other-jpg"]);
    });
  });
});
