import { DeleteFunctionCommand, GetFunctionCommand, GetFunctionEventInvokeConfigCommand, GetPolicyCommand, RemovePermissionCommand } from "@aws-sdk/client-lambda";
import { GetQueueUrlCommand } from "@aws-sdk/client-sqs";
import { DeleteLogGroupCommand, ListTagsForResourceCommand as ListLogTagsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { DeleteBucketCommand, DeleteObjectsCommand, PutBucketNotificationConfigurationCommand } from "@aws-sdk/client-s3";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { setAwsRuntime } from "../../src/aws/runtime.js";
import { awsError, projectDir, runCli } from "./aws-fixtures.js";
import { FOREIGN_RULE, type Mocks, deployedAccount, freshAccount, mockAws, restoreAws, writes } from "./aws-world.js";

let m: Mocks;
let restoreRuntime: () => void;
let asked: string[];
beforeEach(() => {
  m = mockAws();
  asked = [];
  restoreRuntime = setAwsRuntime({ sleep: async () => {}, stdinIsTTY: () => false, confirm: async (q) => (asked.push(q), true) });
});
afterEach(() => {
  restoreAws(m);
  restoreRuntime();
});

describe("imgfn teardown", () => {
  it("removes imgfn's resources in a safe order, keeps the foreign rule and the bucket", async () => {
    deployedAccount(m, { foreignRules: [FOREIGN_RULE] });
    const r = await runCli(["teardown", "--yes"], { cwd: projectDir() });
    expect(r.stderr).not.toContain("error:");
    expect(r.code).toBe(0);
    expect(writes(m)).toEqual([
      "s3:PutBucketNotificationConfiguration",
      "lambda:RemovePermission",
      "lambda:DeleteFunction",
      "logs:DeleteLogGroup",
      "sqs:DeleteQueue",
      "iam:DeleteRolePolicy",
      "iam:DeleteRole",
      "ecr:DeleteRepository",
    ]);
    expect(m.s3.commandCalls(PutBucketNotificationConfigurationCommand)[0].args[0].input.NotificationConfiguration).toEqual({ LambdaFunctionConfigurations: [FOREIGN_RULE] });
    expect(m.s3.commandCalls(DeleteBucketCommand)).toHaveLength(0);
    expect(r.stdout).toContain("Removed 7 resources of imgfn-demo; the bucket s3://imgfn-demo-123456789012-eu-west-1 stays");
  });

  it("a second teardown succeeds and reports nothing to do", async () => {
    freshAccount(m, { foreignRules: [FOREIGN_RULE] });
    const r = await runCli(["teardown", "--yes"], { cwd: projectDir() });
    expect(r.code).toBe(0);
    expect(writes(m)).toEqual([]);
    expect(r.stdout).toContain(`Nothing to tear down: no imgfn resources for app "demo" in eu-west-1`);
  });

  it("refuses without --yes when stdin is not a terminal, deleting nothing", async () => {
    deployedAccount(m);
    const r = await runCli(["teardown"], { cwd: projectDir() });
    expect(r.code).toBe(2); // a usage error, as the README says: nothing could answer the question
    // refused before any AWS call
    expect(Object.values(m).reduce((n, mock) => n + mock.calls().length, 0)).toBe(0);
    expect(r.stderr).toContain("error: teardown deletes resources and needs confirmation, but stdin is not a terminal");
    expect(r.stderr).toContain("next step: run again with --yes");
    expect(writes(m)).toEqual([]);
  });

  it("asks on a terminal and stops when the answer is no", async () => {
    deployedAccount(m);
    setAwsRuntime({ stdinIsTTY: () => true, confirm: async (q) => (asked.push(q), false) });
    const r = await runCli(["teardown"], { cwd: projectDir() });
    expect(asked).toEqual(["Delete these resources?"]);
    expect(r.code).toBe(1);
    expect(writes(m)).toEqual([]);
  });

  it("--keep-logs keeps the log group", async () => {
    deployedAccount(m);
    const r = await runCli(["teardown", "--yes", "--keep-logs"], { cwd: projectDir() });
    expect(r.code).toBe(0);
    expect(m.logs.commandCalls(DeleteLogGroupCommand)).toHaveLength(0);
    expect(m.lambda.commandCalls(DeleteFunctionCommand)).toHaveLength(1);
  });

  it("--delete-bucket refuses a bucket imgfn did not create, unless --force", async () => {
    deployedAccount(m, { bucketCreatedByImgfn: false });
    const r = await runCli(["teardown", "--yes", "--delete-bucket"], { cwd: projectDir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("was not created by imgfn; teardown leaves it alone");
    expect(writes(m)).toEqual([]);
  });

  it("--delete-bucket never deletes objects silently", async () => {
    deployedAccount(m, { objects: 3 });
    const r = await runCli(["teardown", "--yes", "--delete-bucket"], { cwd: projectDir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("still holds 3 objects; teardown does not delete data silently");
    expect(writes(m)).toEqual([]);
  });

  it("--delete-bucket removes an empty bucket imgfn created, last", async () => {
    deployedAccount(m);
    const r = await runCli(["teardown", "--yes", "--delete-bucket"], { cwd: projectDir() });
    expect(r.code).toBe(0);
    expect(writes(m).at(-1)).toBe("s3:DeleteBucket");
  });

  it("--delete-bucket --force stops with the reason when S3 refuses to delete objects, instead of looping", async () => {
    deployedAccount(m, { objects: 2 });
    m.s3.on(DeleteObjectsCommand).resolves({ Deleted: [{ Key: "uploads/0.jpg" }], Errors: [{ Key: "uploads/1.jpg", Code: "AccessDenied", Message: "Access Denied because object protected by object lock." }] });
    const r = await runCli(["teardown", "--yes", "--delete-bucket", "--force"], { cwd: projectDir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("could not delete 1 object from bucket imgfn-demo-123456789012-eu-west-1 (uploads/1.jpg: AccessDenied Access Denied because object protected by object lock.); the bucket was kept");
    expect(m.s3.commandCalls(DeleteObjectsCommand)).toHaveLength(1);
    expect(m.s3.commandCalls(DeleteBucketCommand)).toHaveLength(0);
  });

  it("leaves a same-named function that is not tagged as imgfn's", async () => {
    deployedAccount(m);
    m.lambda.on(GetFunctionCommand).resolves({ Configuration: { FunctionName: "imgfn-demo" }, Tags: { team: "other" } });
    m.lambda.on(GetPolicyCommand).rejects(awsError("ResourceNotFoundException", "The resource you requested does not exist.", 404));
    const r = await runCli(["teardown", "--yes"], { cwd: projectDir() });
    expect(r.code).toBe(0);
    expect(m.lambda.commandCalls(DeleteFunctionCommand)).toHaveLength(0);
    expect(r.stderr).toContain("function imgfn-demo left in place: not tagged as imgfn's");
    // nor its policy statement, nor a log group that is not imgfn's
    expect(m.lambda.commandCalls(RemovePermissionCommand)).toHaveLength(0);
    expect(r.stderr).toContain("permission imgfn-demo-s3-invoke left in place: function imgfn-demo is not tagged as imgfn's; its policy is left alone");
  });

  it("leaves a log group of the same name that is not tagged as imgfn's", async () => {
    deployedAccount(m);
    m.logs.on(ListLogTagsCommand).resolves({ tags: { team: "other" } });
    const r = await runCli(["teardown", "--yes"], { cwd: projectDir() });
    expect(r.code).toBe(0);
    expect(m.logs.commandCalls(DeleteLogGroupCommand)).toHaveLength(0);
    expect(r.stderr).toContain("log-group /aws/lambda/imgfn-demo left in place: not tagged as imgfn's");
  });

  it("refuses to delete a failure queue with failed events in it, deleting nothing, unless --force", async () => {
    deployedAccount(m, { failedEvents: 3 });
    const r = await runCli(["teardown", "--yes"], { cwd: projectDir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: the failure queue imgfn-demo-failed holds 3 failed events; deleting it would lose them, so teardown stopped before deleting anything");
    expect(r.stderr).toContain("next step: look at them with imgfn failed and replay them with imgfn retry, or add --force to delete them with the queue");
    expect(writes(m)).toEqual([]);

    const plan = await runCli(["teardown", "--dry-run"], { cwd: projectDir() });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/·\s+failure-queue\s+imgfn-demo-failed\s+holds 3 failed events: teardown stops before deleting anything unless --force/);
    expect(writes(m)).toEqual([]);

    const forced = await runCli(["teardown", "--yes", "--force"], { cwd: projectDir() });
    expect(forced.code).toBe(0);
    expect(writes(m)).toContain("sqs:DeleteQueue");
  });
});

describe("imgfn status", () => {
  it("shows the function, trigger and invocations, and reports drift", async () => {
    deployedAccount(m, { foreignRules: [FOREIGN_RULE] });
    const dir = projectDir({ app: "demo", region: "eu-west-1", memory: 2048 });
    const r = await runCli(["status"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/function\s+imgfn-demo\s+Active/);
    expect(r.stdout).toContain("sha256:aaaa");
    expect(r.stdout).toMatch(/trigger\s+s3:\/\/imgfn-demo-123456789012-eu-west-1\/uploads\/\* .*\(\+1 rules not imgfn's\)/);
    expect(r.stdout).toMatch(/invocations\s+1 in the last 24 h/);
    expect(r.stdout).toContain("~ function memory 1024 → 2048 MB");
    expect(writes(m)).toEqual([]);
  });

  it("behind --endpoint-url reports no drift for what deploy set there (path-style S3 in the function)", async () => {
    deployedAccount(m, { endpointUrl: "http://localhost:4566" });
    const r = await runCli(["--endpoint-url", "http://localhost:4566", "status", "--json"], { cwd: projectDir() });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).drift).toEqual([]);
  });

  it("reports a function deployed before the failure queue existed: no queue, no on-failure destination, and counts nothing", async () => {
    deployedAccount(m);
    m.lambda.on(GetFunctionEventInvokeConfigCommand).rejects(awsError("ResourceNotFoundException", "The function imgfn-demo doesn't have an EventInvokeConfig", 404));
    m.sqs.on(GetQueueUrlCommand).rejects(awsError("QueueDoesNotExist", "The specified queue does not exist."));
    const r = await runCli(["status", "--json"], { cwd: projectDir() });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.failedEvents).toBeUndefined();
    expect(report.drift).toEqual(["async invocations: failed events → imgfn-demo-failed", "failure queue imgfn-demo-failed is missing (failed events are dropped)"]);
    const human = await runCli(["status"], { cwd: projectDir() });
    expect(human.stdout).toMatch(/failed events\s+no failure queue \(imgfn-demo-failed\)/);
  });

  it("says when nothing is deployed", async () => {
    freshAccount(m);
    const r = await runCli(["status", "--json"], { cwd: projectDir() });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ deployed: false, drift: [] });
  });
});

describe("imgfn init", () => {
  it("writes a validated config and refuses to overwrite it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "My Project-"));
    const r = await runCli(["--region", "eu-central-1", "init", "--memory", "2048", "--input-prefix", "in"], { cwd: dir });
    expect(r.code).toBe(0);
    const written = JSON.parse(readFileSync(join(dir, "imgfn.config.json"), "utf8"));
    expect(written).toMatchObject({ region: "eu-central-1", memory: 2048, inputPrefix: "in/", outputPrefix: "results/" });
    expect(written.app).toMatch(/^my-project-/);
    const again = await runCli(["init"], { cwd: dir });
    expect(again.code).toBe(2); // a configuration error
    expect(again.stderr).toContain("next step: edit it, or run imgfn init --force to overwrite it");
    expect(again.stderr).toContain("already exists");
  });

  it("refuses an output prefix inside the input prefix without writing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "imgfn-init-"));
    const r = await runCli(["init", "--input-prefix", "data/", "--output-prefix", "data/results/"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("every result would retrigger the function");
    expect(existsSync(join(dir, "imgfn.config.json"))).toBe(false);
  });
});

