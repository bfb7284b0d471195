import { AddPermissionCommand, CreateFunctionCommand, UpdateFunctionCodeCommand } from "@aws-sdk/client-lambda";
import { CreateRoleCommand } from "@aws-sdk/client-iam";
import { DescribeImagesCommand, GetAuthorizationTokenCommand, ListTagsForResourceCommand } from "@aws-sdk/client-ecr";
import { DeleteObjectsCommand, GetObjectCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { FilterLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { setAwsRuntime } from "../../src/aws/runtime.js";
import { sha256Hex } from "../../src/golden/golden.js";
import { goldenFolder } from "../helpers/golden.js";
import { ACCOUNT, DIGEST_A, DIGEST_B, REPO_URI, awsError, projectDir, runCli } from "./aws-fixtures.js";
import { BUCKET, FOREIGN_RULE, FakeBuilder, type Mocks, deployedAccount, freshAccount, mockAws, restoreAws, writes } from "./aws-world.js";

let m: Mocks;
let builder: FakeBuilder;
let restoreRuntime: () => void;
const env = { IMGFN_MODEL_MIRROR: process.env.IMGFN_MODEL_MIRROR ?? "", XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), "imgfn-cache-")) };

beforeEach(() => {
  m = mockAws();
  builder = new FakeBuilder(DIGEST_A);
  restoreRuntime = setAwsRuntime({
    selectBuilder: async () => builder,
    sleep: async () => {},
    stage: async (_spec, dir) => ({ dir, handler: "index.handler", files: { handler: [], model: [] } }),
    // --image's registry check runs against a real registry in test/emulator/deploy.test.ts
    preflightImage: async () => {},
  });
});
afterEach(() => {
  restoreAws(m);
  restoreRuntime();
});

describe("imgfn deploy --dry-run", () => {
  it("prints the full plan for a fresh config without credentials, and changes nothing", async () => {
    m.sts.on(GetCallerIdentityCommand).rejects(awsError("CredentialsProviderError", "Could not load credentials from any providers"));
    const r = await runCli(["deploy", "--dry-run"], { cwd: projectDir(), env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("planned as a fresh account). Nothing was changed.");
    for (const step of ["bucket", "repository", "image", "role", "failure-queue", "log-group", "function", "events", "permission", "trigger"]) {
      expect(r.stdout).toMatch(new RegExp(`\\+\\s+${step}\\s+create`));
    }
    // verify is no resource: it runs after a deploy, and a plan never counts it as a change
    expect(r.stdout).toMatch(/·\s+verify\s+skip\s+samples\/cat\.jpg\s+after a deploy: upload, wait for the result, delete both/);
    expect(r.stdout).toContain("imgfn-demo-role");
    expect(r.stdout).toContain("10 to create, 0 to update, 0 unchanged.");
    expect(writes(m)).toEqual([]);
    expect(builder.requests).toEqual([]);
  });

  it("with credentials reads the account and plans each step, writing nothing", async () => {
    freshAccount(m, { foreignRules: [FOREIGN_RULE] });
    const r = await runCli(["deploy", "--dry-run", "--json"], { cwd: projectDir(), env });
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan).toMatchObject({ dryRun: true, account: ACCOUNT, bucket: BUCKET });
    expect(plan.steps.map((s: any) => `${s.step}:${s.action}`)).toEqual([
      "bucket:create",
      "repository:create",
      "image:create",
      "role:create",
      "failure-queue:create",
      "log-group:create",
      "function:create",
      "events:create",
      "permission:create",
      "trigger:create",
      "verify:skip",
    ]);
    expect(plan.steps.find((s: any) => s.step === "trigger").changes).toContain("1 other rule kept");
    expect(writes(m)).toEqual([]);
  });
});

describe("imgfn deploy", () => {
  it("creates everything in order, passes ECR auth to the builder, retries the new role, keeps foreign rules and verifies", async () => {
    freshAccount(m, { foreignRules: [FOREIGN_RULE] });
    const r = await runCli(["deploy"], { cwd: projectDir(), env });
    expect(r.stderr).not.toContain("error:");
    expect(r.code).toBe(0);
    // the builder pushed to ECR's repository with the token from GetAuthorizationToken
    expect(builder.requests).toHaveLength(1);
    expect(builder.requests[0]).toMatchObject({ repository: REPO_URI, tag: "latest", architecture: "x86_64", auth: { username: "AWS", password: "ecr-password" } });
    // the function runs the image by digest; the role was retried once, and the wait was shown
    const creates = m.lambda.commandCalls(CreateFunctionCommand);
    expect(creates).toHaveLength(2);
    expect(creates[1].args[0].input.Code).toEqual({ ImageUri: `${REPO_URI}@${DIGEST_A}` });
    expect(r.stderr).toContain("waiting for the new role to become usable by Lambda");
    // least privilege: exactly the bucket's prefixes and the function's log group
    const role = m.iam.commandCalls(CreateRoleCommand)[0].args[0].input;
    expect(JSON.parse(role.AssumeRolePolicyDocument!).Statement[0].Principal).toEqual({ Service: "lambda.amazonaws.com" });
    // the foreign rule survives, and imgfn's rules point at the function
    const put = m.s3.commandCalls(PutBucketNotificationConfigurationCommand)[0].args[0].input.NotificationConfiguration!;
    expect(put.LambdaFunctionConfigurations![0]).toEqual(FOREIGN_RULE);
    expect(put.LambdaFunctionConfigurations!.slice(1).every((c) => c.Id!.startsWith("imgfn-demo-") && c.LambdaFunctionArn!.endsWith(":function:imgfn-demo"))).toBe(true);
    expect(m.lambda.commandCalls(AddPermissionCommand)).toHaveLength(1);
    // verify: a unique key under the input prefix, cleaned up afterwards
    const key = m.s3.commandCalls(PutObjectCommand)[0].args[0].input.Key!;
    expect(key).toMatch(/^uploads\/imgfn-verify-[0-9a-f]{8}\.jpg$/);
    const deleted = m.s3.commandCalls(DeleteObjectsCommand)[0].args[0].input.Delete!.Objects!.map((o) => o.Key);
    expect(deleted).toEqual([key, key.replace(/^uploads\//, "results/") + ".json"]);
    expect(r.stdout).toContain(`Deployed imgfn-demo to eu-west-1 (account ${ACCOUNT}).`);
    expect(r.stdout).toMatch(/verified\s+cat → tabby, tabby cat \(62\.0%\), .* end to end; init 901 ms, duration 413 ms, max memory 187\/1024 MB/);
    // the order a user sees in the step lines
    const order = r.stderr.split("\n").filter((l) => l.startsWith("✔")).map((l) => l.slice(2).split(":")[0]);
    expect(order).toEqual(["Account and region", "Checks", "Bucket", "Image repository", "Image", "Role", "Failure queue", "Log group", "Function", "Async invocations", "Invoke permission", "Trigger", "Verify"]);
  });

  it("fails with exit 1 when the verification result never arrives, naming the logs to check, and cleans up", async () => {
    freshAccount(m);
    m.s3.on(GetObjectCommand).rejects(awsError("NoSuchKey", "The specified key does not exist.", 404));
    const restore = setAwsRuntime({ verifyTimeout: 300 });
    try {
      const r = await runCli(["deploy"], { cwd: projectDir(), env });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/error: verification failed: uploaded s3:\/\/imgfn-demo-123456789012-eu-west-1\/uploads\/imgfn-verify-[0-9a-f]{8}\.jpg but no result at results\/imgfn-verify-[0-9a-f]{8}\.jpg\.json after 0 s/);
      expect(r.stderr).toContain("imgfn logs --since 10m (log group /aws/lambda/imgfn-demo)");
      expect(r.stdout).not.toContain("Deployed");
      expect(m.s3.commandCalls(DeleteObjectsCommand)).toHaveLength(1);
    } finally {
      restore();
    }
  });

  it("behind --endpoint-url the function's own S3 client is told to use path-style addresses", async () => {
    freshAccount(m);
    const r = await runCli(["deploy", "--no-verify", "--endpoint-url", "http://localhost:4566"], { cwd: projectDir(), env });
    expect(r.code).toBe(0);
    const vars = m.lambda.commandCalls(CreateFunctionCommand).at(-1)!.args[0].input.Environment!.Variables!;
    expect(vars).toMatchObject({ IMGFN_S3_FORCE_PATH_STYLE: "1", IMGFN_INPUT_PREFIX: "uploads/", IMGFN_OUTPUT_PREFIX: "results/" });
    freshAccount(m);
    await runCli(["deploy", "--no-verify"], { cwd: projectDir(), env });
    expect(m.lambda.commandCalls(CreateFunctionCommand).at(-1)!.args[0].input.Environment!.Variables!.IMGFN_S3_FORCE_PATH_STYLE).toBeUndefined();
  });

  it("pushes to the --registry host while the function still names ECR's repository", async () => {
    freshAccount(m);
    const r = await runCli(["deploy", "--no-verify", "--registry", "localhost:4566"], { cwd: projectDir(), env });
    expect(r.code).toBe(0);
    expect(builder.requests[0].repository).toBe("localhost:4566/imgfn-demo");
    expect(m.lambda.commandCalls(CreateFunctionCommand).at(-1)!.args[0].input.Code!.ImageUri).toBe(`${REPO_URI}@${DIGEST_A}`);
  });

  it("pushes to the registry GetAuthorizationToken names (an emulator's own host), the function naming ECR's repository", async () => {
    freshAccount(m);
    m.ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [{ authorizationToken: Buffer.from("AWS:pw").toString("base64"), proxyEndpoint: "http://localhost:4566" }] });
    const r = await runCli(["deploy", "--no-verify", "--endpoint-url", "http://localhost:4566"], { cwd: projectDir(), env });
    expect(r.code).toBe(0);
    expect(builder.requests[0]).toMatchObject({ repository: "localhost:4566/imgfn-demo", auth: { username: "AWS", password: "pw" }, plainHttp: true });
    expect(m.lambda.commandCalls(CreateFunctionCommand).at(-1)!.args[0].input.Code!.ImageUri).toBe(`${REPO_URI}@${DIGEST_A}`);
  });

  it("a second deploy with nothing changed makes no changes and says so", async () => {
    deployedAccount(m, { foreignRules: [FOREIGN_RULE] });
    const r = await runCli(["deploy", "--no-verify"], { cwd: projectDir(), env });
    expect(r.code).toBe(0);
    expect(writes(m)).toEqual([]);
    expect(r.stdout).toContain("No changes: imgfn-demo in eu-west-1 already matches the config.");
  });

  it("a second deploy behind --endpoint-url makes no changes either", async () => {
    deployedAccount(m, { endpointUrl: "http://localhost:4566" });
    const r = await runCli(["--endpoint-url", "http://localhost:4566", "deploy", "--no-verify"], { cwd: projectDir(), env });
    expect(r.code).toBe(0);
    expect(writes(m)).toEqual([]);
    expect(r.stdout).toContain("No changes");
  });

  it("after a new build updates only the function's code, by digest", async () => {
    deployedAccount(m);
    builder = new FakeBuilder(DIGEST_B);
    const r = await runCli(["deploy", "--no-verify"], { cwd: projectDir(), env });
    expect(r.code).toBe(0);
    expect(writes(m)).toEqual(["lambda:UpdateFunctionCode"]);
    expect(m.lambda.commandCalls(UpdateFunctionCodeCommand)[0].args[0].input.ImageUri).toBe(`${REPO_URI}@${DIGEST_B}`);
  });

  it("--image deploys a given digest without building", async () => {
    freshAccount(m);
    const image = `999999999999.dkr.ecr.eu-west-1.amazonaws.com/elsewhere@${DIGEST_B}`;
    const r = await runCli(["deploy", "--no-verify", "--image", image], { cwd: projectDir(), env });
    expect(r.code).toBe(0);
    expect(builder.requests).toEqual([]);
    expect(m.lambda.commandCalls(CreateFunctionCommand).at(-1)!.args[0].input.Code!.ImageUri).toBe(image);
  });

  it("--image with a tag in an emulator's ECR is resolved to its digest with DescribeImages", async () => {
    freshAccount(m);
    m.ecr.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: DIGEST_B }] });
    const image = "000000000000.dkr.ecr.us-east-1.localhost.localstack.cloud:4566/classifier:v1";
    const r = await runCli(["--endpoint-url", "http://localhost:4566", "deploy", "--no-verify", "--image", image], { cwd: projectDir(), env });
    expect(r.code).toBe(0);
    expect(m.ecr.commandCalls(DescribeImagesCommand)[0].args[0].input).toEqual({ registryId: "000000000000", repositoryName: "classifier", imageIds: [{ imageTag: "v1" }] });
    expect(m.lambda.commandCalls(CreateFunctionCommand).at(-1)!.args[0].input.Code!.ImageUri).toBe(`000000000000.dkr.ecr.us-east-1.localhost.localstack.cloud:4566/classifier@${DIGEST_B}`);
  });

  it("refuses a moving tag outside ECR for --image", async () => {
    freshAccount(m);
    const r = await runCli(["deploy", "--no-verify", "--image", "docker.io/me/classifier:latest"], { cwd: projectDir(), env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: --image docker.io/me/classifier:latest has no digest");
  });

  it("explains an overlapping notification rule and stops before touching the bucket's rules", async () => {
    const overlapping = { ...FOREIGN_RULE, Id: "everything", Filter: undefined };
    freshAccount(m, { foreignRules: [overlapping] });
    const r = await runCli(["deploy", "--no-verify"], { cwd: projectDir(), env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: the trigger for s3:\/\/.*\/uploads\/ would overlap existing notification rules: rule "everything"/);
    expect(r.stderr).toContain("next step: use a different \"inputPrefix\"");
    expect(m.s3.commandCalls(PutBucketNotificationConfigurationCommand)).toHaveLength(0);
    // refused before the first change: no bucket, repository, image, role, queue, log group or function
    expect(writes(m)).toEqual([]);
    expect(builder.requests).toEqual([]);
  });

  it("refuses a same-named ECR repository tagged by someone else, before building or changing it", async () => {
    deployedAccount(m);
    m.ecr.on(ListTagsForResourceCommand).resolves({ tags: [{ Key: "team", Value: "vision" }] });
    const r = await runCli(["deploy", "--no-verify"], { cwd: projectDir(), env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: ECR repository imgfn-demo exists but is not tagged as imgfn's");
    expect(writes(m)).toEqual([]);
    expect(builder.requests).toEqual([]);
  });

  it("names the refused action on AccessDenied and exits 1", async () => {
    freshAccount(m);
    m.iam
      .on(CreateRoleCommand)
      .rejects(awsError("AccessDenied", `User: arn:aws:iam::${ACCOUNT}:user/dev is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::${ACCOUNT}:role/imgfn-demo-role because no identity-based policy allows the iam:CreateRole action`, 403));
    const r = await runCli(["deploy", "--no-verify"], { cwd: projectDir(), env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: AWS denied iam:CreateRole on arn:aws:iam::${ACCOUNT}:role/imgfn-demo-role for arn:aws:iam::${ACCOUNT}:user/dev`);
    expect(r.stderr).toContain("next step: allow iam:CreateRole");
  });

  it("without credentials says so with the next step (not a dry run)", async () => {
    m.sts.on(GetCallerIdentityCommand).rejects(awsError("CredentialsProviderError", "Could not load credentials from any providers"));
    const r = await runCli(["deploy"], { cwd: projectDir(), env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: no AWS credentials found");
    expect(r.stderr).toContain('next step: run "aws configure"');
  });

  it("a model that cannot be found is a one-line error", async () => {
    freshAccount(m);
    const r = await runCli(["deploy", "--no-verify", "--model", "/nonexistent/model.json"], { cwd: projectDir(), env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("error: cannot read model manifest /nonexistent/model.json");
    expect(m.lambda.commandCalls(CreateFunctionCommand)).toHaveLength(0);
  });
});

describe("imgfn upload and imgfn logs against AWS", () => {
  it("upload derives the bucket from the account (STS) and puts under the input prefix", async () => {
    freshAccount(m);
    const dir = projectDir();
    writeFileSync(join(dir, "cat.jpg"), Buffer.from([0xff, 0xd8, 0xff, 0xe0]));
    const r = await runCli(["upload", "cat.jpg", "--no-wait"], { cwd: dir, env });
    expect(r.code).toBe(0);
    const put = m.s3.commandCalls(PutObjectCommand)[0].args[0].input;
    expect({ Bucket: put.Bucket, Key: put.Key, ContentType: put.ContentType }).toEqual({ Bucket: BUCKET, Key: "uploads/cat.jpg", ContentType: "image/jpeg" });
  });

  it("upload before any deploy says the bucket does not exist and what to run", async () => {
    freshAccount(m);
    m.s3.on(PutObjectCommand).rejects(awsError("NoSuchBucket", "The specified bucket does not exist", 404));
    const dir = projectDir();
    writeFileSync(join(dir, "cat.jpg"), Buffer.from([0xff, 0xd8, 0xff, 0xe0]));
    const r = await runCli(["upload", "cat.jpg"], { cwd: dir, env });
    expect(r.code).toBe(1);
    // one sentence, not "(AWS eu-west-1 (s3://…))" nested inside it
    expect(r.stderr).toContain(`error: bucket ${BUCKET} does not exist\n`);
    expect(r.stderr).not.toMatch(/\([^()\n]*\([^()\n]*\)[^()\n]*\)/);
    expect(r.stderr).toMatch(/next step: run "imgfn deploy" first/);
  });

  it("logs says the function has not been invoked yet when its log group does not exist, and exits 0", async () => {
    freshAccount(m);
    m.logs.on(FilterLogEventsCommand).rejects(awsError("ResourceNotFoundException", "The specified log group does not exist.", 400));
    const r = await runCli(["logs", "--since", "1h"], { cwd: projectDir(), env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("log group /aws/lambda/imgfn-demo does not exist yet: the function has not been invoked");
    const since = m.logs.commandCalls(FilterLogEventsCommand)[0].args[0].input.startTime!;
    expect(Math.abs(Date.now() - 3_600_000 - since)).toBeLessThan(60_000);
  });
});

// deploy --golden: after the sample, the golden images go through the deployed function (S3 upload,
// result objects read back) and must answer as recorded; aws-world's function answers "tabby, tabby cat (62%)".
async function goldenFile(entries: { image: "cat" | "espresso"; index: number; label: string; score: number }[]) {
  const { dir, images } = await goldenFolder();
  const path = join(dir, "golden.json");
  const files = entries.map((e) => {
    const file = images[e.image === "cat" ? 0 : 1];
    return { file: `${e.image}.jpg`, sha256: sha256Hex(readFileSync(file)), top: [{ index: e.index, label: e.label, score: e.score }] };
  });
  writeFileSync(path, JSON.stringify({ version: 1, source: "function", createdAt: new Date().toISOString(), model: { id: "mobilenetv2-12-int8", sha256: null }, topK: 5, files }));
  return path;
}

describe("imgfn deploy --golden", () => {
  it("uploads each golden image under a unique folder, checks the results, cleans up and reports the agreement", async () => {
    freshAccount(m);
    const golden = await goldenFile([{ image: "cat", index: 281, label: "tabby, tabby cat", score: 0.61 }]);
    const r = await runCli(["deploy", "--golden", golden], { cwd: projectDir(), env });
    expect(r.code, r.stderr).toBe(0);
    const keys = m.s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key!);
    expect(keys).toHaveLength(2); // the sample, then the golden image
    expect(keys[1]).toMatch(/^uploads\/imgfn-golden-[0-9a-f]{8}\/0-cat\.jpg$/);
    const deleted = m.s3.commandCalls(DeleteObjectsCommand).flatMap((c) => c.args[0].input.Delete!.Objects!.map((o) => o.Key));
    expect(deleted).toEqual(expect.arrayContaining([keys[1], keys[1].replace(/^uploads\//, "results/") + ".json"]));
    expect(r.stdout).toMatch(/golden\s+1 images answer as recorded: top-1 agreement 100\.0%, max \|Δp\| 0\.0100/);
    expect(r.stderr).toMatch(/✔ Golden check: 1 images, top-1 agreement 100\.0%/);
  });

  it("exits 1 with the table of the files whose answers moved", async () => {
    freshAccount(m);
    const golden = await goldenFile([
      { image: "cat", index: 281, label: "tabby, tabby cat", score: 0.62 },
      { image: "espresso", index: 967, label: "espresso", score: 0.42 },
    ]);
    const r = await runCli(["deploy", "--golden", golden, "--tolerance", "0.05"], { cwd: projectDir(), env });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/1 of 2 files moved:/);
    expect(r.stdout).toMatch(/espresso\.jpg\s+espresso \(42\.0%\)\s+tabby, tabby cat \(62\.0%\)\s+0\.4200\s+top-1 changed; the golden class left the top-k/);
    expect(r.stdout).not.toMatch(/^\s+cat\.jpg/m);
    expect(r.stderr).toMatch(/error: golden check failed: 1 of 2 files moved past the tolerance \(0\.05\)/);
  });

  it('the config\'s "golden" (relative to the config) runs the same check as --golden', async () => {
    freshAccount(m);
    const golden = await goldenFile([{ image: "cat", index: 281, label: "tabby, tabby cat", score: 0.61 }]);
    const dir = projectDir({ app: "demo", region: "eu-west-1" });
    writeFileSync(join(dir, "imgfn.config.json"), JSON.stringify({ app: "demo", region: "eu-west-1", golden: relative(dir, golden) }));
    const r = await runCli(["deploy"], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    expect(m.s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key!)[1]).toMatch(/^uploads\/imgfn-golden-[0-9a-f]{8}\/0-cat\.jpg$/);
    expect(r.stderr).toMatch(/✔ Golden check: 1 images, top-1 agreement 100\.0%/);
    // a golden setting that is not a path is a configuration error, before anything runs
    writeFileSync(join(dir, "imgfn.config.json"), JSON.stringify({ app: "demo", region: "eu-west-1", golden: 3 }));
    const bad = await runCli(["deploy"], { cwd: dir, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/"golden" must be the path of a golden file/);
  });

  it("a golden file that cannot be read stops deploy's verify with a configuration error", async () => {
    freshAccount(m);
    const r = await runCli(["deploy", "--golden", "/nonexistent/golden.json"], { cwd: projectDir(), env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/golden file not found: \/nonexistent\/golden\.json/);
  });
});
