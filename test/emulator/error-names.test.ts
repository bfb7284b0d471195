/**
 * The aws-sdk-client-mock tests (test/unit) answer with AWS error names we wrote ourselves; here
 * moto_server gives its real answers for the same calls, so a mock's name cannot drift from what
 * the SDK actually raises (it found IAM's: the SDK raises NoSuchEntityException, not NoSuchEntity).
 * moto has no answer for IAM propagation, Pending, ResourceConflictException or throttling: those
 * stay mock-only.
 */
import { CreateLogGroupCommand, ListTagsForResourceCommand as ListLogTags } from "@aws-sdk/client-cloudwatch-logs";
import { CreateRepositoryCommand, DescribeRepositoriesCommand, GetLifecyclePolicyCommand } from "@aws-sdk/client-ecr";
import { CreateRoleCommand, GetRoleCommand, GetRolePolicyCommand } from "@aws-sdk/client-iam";
import { AddPermissionCommand, CreateFunctionCommand, GetFunctionCommand, GetFunctionEventInvokeConfigCommand, GetPolicyCommand } from "@aws-sdk/client-lambda";
import { CreateBucketCommand, GetBucketTaggingCommand, HeadBucketCommand } from "@aws-sdk/client-s3";
import { GetQueueUrlCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorName } from "../../src/aws/errors.js";
import { motoUnavailable } from "../helpers/moto.js";
import { ACCOUNT, REGION, startWorld, type World, EMULATOR_TEST_TIMEOUT } from "./world.js";

const unavailable = motoUnavailable();
let w: World;
const nameOf = (p: Promise<unknown>) => p.then(() => "(no error)", (err) => errorName(err));
const TRUST = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] });

describe.skipIf(unavailable)("the mocks' AWS error names are moto_server's", { timeout: EMULATOR_TEST_TIMEOUT }, () => {
  beforeAll(async () => {
    w = await startWorld();
  }, 120_000);
  afterAll(async () => w?.close());

  it("for a missing resource", async () => {
    const { lambda, iam, ecr, sqs, s3 } = w.aws;
    expect(await nameOf(lambda.send(new GetFunctionCommand({ FunctionName: "nope" })))).toBe("ResourceNotFoundException");
    expect(await nameOf(iam.send(new GetRoleCommand({ RoleName: "nope" })))).toBe("NoSuchEntityException");
    expect(await nameOf(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ["nope"] })))).toBe("RepositoryNotFoundException");
    expect(await nameOf(sqs.send(new GetQueueUrlCommand({ QueueName: "nope" })))).toBe("QueueDoesNotExist");
    expect(await nameOf(s3.send(new HeadBucketCommand({ Bucket: "nope-bucket" })))).toBe("NotFound");
  });

  it("for a resource without the optional part imgfn reads", async () => {
    const { lambda, iam, ecr, s3 } = w.aws;
    await s3.send(new CreateBucketCommand({ Bucket: "names-bucket" }));
    expect(await nameOf(s3.send(new GetBucketTaggingCommand({ Bucket: "names-bucket" })))).toBe("NoSuchTagSet");
    await ecr.send(new CreateRepositoryCommand({ repositoryName: "names-repo" }));
    expect(await nameOf(ecr.send(new GetLifecyclePolicyCommand({ repositoryName: "names-repo" })))).toBe("LifecyclePolicyNotFoundException");
    const role = await iam.send(new CreateRoleCommand({ RoleName: "names-role", AssumeRolePolicyDocument: TRUST }));
    expect(await nameOf(iam.send(new GetRolePolicyCommand({ RoleName: "names-role", PolicyName: "none" })))).toBe("NoSuchEntityException");
    await lambda.send(new CreateFunctionCommand({ FunctionName: "names-fn", PackageType: "Image", Code: { ImageUri: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/x@sha256:${"d".repeat(64)}` }, Role: role.Role!.Arn! }));
    expect(await nameOf(lambda.send(new GetPolicyCommand({ FunctionName: "names-fn" })))).toBe("ResourceNotFoundException");
    expect(await nameOf(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: "names-fn" })))).toBe("ResourceNotFoundException");
  });

  it("for a create of something that exists (imgfn takes these to mean: already done)", async () => {
    const { lambda, iam, ecr, logs, s3 } = w.aws;
    expect(await nameOf(ecr.send(new CreateRepositoryCommand({ repositoryName: "names-repo" })))).toBe("RepositoryAlreadyExistsException");
    expect(await nameOf(iam.send(new CreateRoleCommand({ RoleName: "names-role", AssumeRolePolicyDocument: TRUST })))).toBe("EntityAlreadyExistsException");
    await logs.send(new CreateLogGroupCommand({ logGroupName: "/names/group" }));
    expect(await nameOf(logs.send(new CreateLogGroupCommand({ logGroupName: "/names/group" })))).toBe("ResourceAlreadyExistsException");
    const statement = { FunctionName: "names-fn", StatementId: "s1", Action: "lambda:InvokeFunction", Principal: "s3.amazonaws.com" };
    await lambda.send(new AddPermissionCommand(statement));
    // moto accepts a repeated statement id, where AWS answers ResourceConflictException "already
    // exists": that answer (and the one for an update in progress) stays mock-only
    expect(await nameOf(lambda.send(new AddPermissionCommand(statement)))).toBe("(no error)");
    // us-east-1 answers a repeated CreateBucket of your own bucket with this (other regions too)
    expect(await nameOf(s3.send(new CreateBucketCommand({ Bucket: "names-bucket" })))).toMatch(/^BucketAlreadyOwnedByYou$|^\(no error\)$/);
    expect(await nameOf(logs.send(new ListLogTags({ resourceArn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/names/group` })))).toBe("(no error)");
  });
});
