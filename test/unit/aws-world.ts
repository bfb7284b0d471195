/**
 * A mocked AWS account for command-level tests: every client mocked with aws-sdk-client-mock, in
 * one of two states — nothing deployed, or exactly what `imgfn deploy` makes for app "demo".
 */
import { CloudWatchLogsClient, CreateLogGroupCommand, DescribeLogGroupsCommand, FilterLogEventsCommand, PutRetentionPolicyCommand, DeleteLogGroupCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CreateRepositoryCommand, DeleteRepositoryCommand, DescribeRepositoriesCommand, ECRClient, GetAuthorizationTokenCommand, GetLifecyclePolicyCommand, ListTagsForResourceCommand, PutLifecyclePolicyCommand } from "@aws-sdk/client-ecr";
import { CreateRoleCommand, DeleteRoleCommand, DeleteRolePolicyCommand, GetRoleCommand, GetRolePolicyCommand, IAMClient, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import {
  AddPermissionCommand,
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  GetFunctionEventInvokeConfigCommand,
  GetPolicyCommand,
  LambdaClient,
  RemovePermissionCommand,
} from "@aws-sdk/client-lambda";
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetBucketNotificationConfigurationCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketTaggingCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ListQueueTagsCommand, SQSClient } from "@aws-sdk/client-sqs";
import { ListTagsForResourceCommand as ListLogTagsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { PutFunctionEventInvokeConfigCommand } from "@aws-sdk/client-lambda";
import { desiredState } from "../../src/aws/desired.js";
import { FAILURE_RETENTION_SECONDS, failureQueuePolicy } from "../../src/aws/sqs.js";
import { mockClient } from "aws-sdk-client-mock";
import { lifecyclePolicy } from "../../src/aws/ecr.js";
import { TRUST_POLICY } from "../../src/aws/iam.js";
import { desiredRules } from "../../src/aws/s3.js";
import { resourceNames, validateConfig } from "../../src/config.js";
import type { BuildRequest, ImageBuilder } from "../../src/image/builder.js";
import { ACCOUNT, DIGEST_A, REGION, REPO_URI, awsError } from "./aws-fixtures.js";

export const BUCKET = `imgfn-demo-${ACCOUNT}-${REGION}`;
export const FN_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:imgfn-demo`;
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/imgfn-demo-role`;
export const names = resourceNames({ app: "demo" });
export const QUEUE_URL = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/imgfn-demo-failed`;
export const QUEUE_ARN = `arn:aws:sqs:${REGION}:${ACCOUNT}:imgfn-demo-failed`;

/** The bucket's notification configuration as S3 keeps it: what was last written is what is read. */
function notificationStore(m: Mocks, initial: any) {
  let current = initial;
  m.s3.on(GetBucketNotificationConfigurationCommand).callsFake(() => structuredClone(current));
  m.s3.on(PutBucketNotificationConfigurationCommand).callsFake((input) => {
    current = structuredClone(input.NotificationConfiguration);
    return {};
  });
}
export const FOREIGN_RULE = {
  Id: "thumbnails",
  LambdaFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:thumbs`,
  Events: ["s3:ObjectCreated:*"],
  Filter: { Key: { FilterRules: [{ Name: "Prefix", Value: "photos/" }] } },
} as any;

export function mockAws() {
  return {
    s3: mockClient(S3Client),
    ecr: mockClient(ECRClient),
    lambda: mockClient(LambdaClient),
    iam: mockClient(IAMClient),
    logs: mockClient(CloudWatchLogsClient),
    sqs: mockClient(SQSClient),
    sts: mockClient(STSClient),
  };
}
export type Mocks = ReturnType<typeof mockAws>;

export function restoreAws(m: Mocks) {
  for (const mock of Object.values(m)) mock.restore();
}

const WRITE = /^(Create|Put|Update|Add|Delete|Remove|Tag|Untag)/;
/** Every call that changes something, as "service:CommandName", in the order they were made (sinon's global callId). */
export function writes(m: Mocks): string[] {
  return Object.entries(m)
    .flatMap(([svc, mock]) => mock.calls().map((c) => ({ id: (c as any).callId as number, name: `${svc}:${(c.args[0] as any).constructor.name.replace(/Command$/, "")}` })))
    .filter((c) => WRITE.test(c.name.split(":")[1]))
    .sort((a, b) => a.id - b.id)
    .map((c) => c.name);
}

const notFound = {
  function: () => awsError("ResourceNotFoundException", `Function not found: ${FN_ARN}`, 404),
  role: () => awsError("NoSuchEntityException", "The role with name imgfn-demo-role cannot be found.", 404),
  repo: () => awsError("RepositoryNotFoundException", `The repository with name 'imgfn-demo' does not exist in the registry with id '${ACCOUNT}'`),
};

function common(m: Mocks) {
  m.sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:user/dev`, UserId: "AIDA" });
  m.ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [{ authorizationToken: Buffer.from("AWS:ecr-password").toString("base64"), proxyEndpoint: `https://${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com` }] });
  m.lambda.on(GetFunctionEventInvokeConfigCommand).rejects(awsError("ResourceNotFoundException", "The function imgfn-demo doesn't have an EventInvokeConfig", 404));
  m.lambda.on(GetFunctionConfigurationCommand).resolves({ State: "Active", LastUpdateStatus: "Successful" });
  // the verify step: the result appears at once, the REPORT line is in the logs
  m.s3.on(PutObjectCommand).resolves({});
  m.s3.on(DeleteObjectsCommand).resolves({});
  m.s3.on(GetObjectCommand).callsFake((input) => ({
    LastModified: new Date(Date.now() + 5000),
    Body: {
      transformToString: async () =>
        JSON.stringify({ input: { bucket: BUCKET, key: input.Key }, predictions: [{ label: "tabby, tabby cat", index: 281, score: 0.62 }], requestId: "11111111-2222-3333-4444-555555555555" }),
    },
  }));
  m.logs.on(FilterLogEventsCommand).resolves({
    events: [{ eventId: "1", timestamp: Date.now(), message: "REPORT RequestId: 11111111-2222-3333-4444-555555555555\tDuration: 412.50 ms\tBilled Duration: 413 ms\tMemory Size: 1024 MB\tMax Memory Used: 187 MB\tInit Duration: 901.20 ms\t" }],
  });
}

/** Nothing deployed; the bucket holds one foreign rule only if `bucketExists`. */
export function freshAccount(m: Mocks, opts: { foreignRules?: any[] } = {}) {
  common(m);
  m.s3.on(HeadBucketCommand).rejects(awsError("NotFound", "", 404));
  m.s3.on(CreateBucketCommand).resolves({ Location: `http://${BUCKET}.s3.amazonaws.com/` });
  m.s3.on(PutPublicAccessBlockCommand).resolves({});
  m.s3.on(PutBucketTaggingCommand).resolves({});
  notificationStore(m, opts.foreignRules ? { LambdaFunctionConfigurations: opts.foreignRules } : {});
  m.sqs.on(GetQueueUrlCommand).rejects(awsError("QueueDoesNotExist", "The specified queue does not exist.", 400));
  m.sqs.on(CreateQueueCommand).resolves({ QueueUrl: QUEUE_URL });
  m.lambda.on(PutFunctionEventInvokeConfigCommand).resolves({});
  m.ecr.on(DescribeRepositoriesCommand).rejects(notFound.repo());
  m.ecr.on(CreateRepositoryCommand).resolves({ repository: { repositoryUri: REPO_URI, repositoryArn: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/imgfn-demo`, repositoryName: "imgfn-demo" } });
  m.ecr.on(PutLifecyclePolicyCommand).resolves({});
  m.iam.on(GetRoleCommand).rejects(notFound.role());
  m.iam.on(CreateRoleCommand).resolves({ Role: { Arn: ROLE_ARN, RoleName: "imgfn-demo-role", Path: "/", RoleId: "AROA", CreateDate: new Date() } });
  m.iam.on(PutRolePolicyCommand).resolves({});
  m.logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
  m.logs.on(CreateLogGroupCommand).resolves({});
  m.logs.on(PutRetentionPolicyCommand).resolves({});
  m.lambda.on(GetFunctionCommand).rejects(notFound.function());
  m.lambda
    .on(CreateFunctionCommand)
    .rejectsOnce(awsError("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda."))
    .resolves({ FunctionArn: FN_ARN, State: "Pending" });
  m.lambda.on(GetPolicyCommand).rejects(awsError("ResourceNotFoundException", "The resource you requested does not exist.", 404));
  m.lambda.on(AddPermissionCommand).resolves({});
  // teardown on an empty account
  m.iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
  m.iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
}

/** Exactly what deploy creates for app "demo" in eu-west-1 with the default config, image DIGEST_A. */
export function deployedAccount(m: Mocks, opts: { foreignRules?: any[]; bucketCreatedByImgfn?: boolean; objects?: number; endpointUrl?: string; failedEvents?: number } = {}) {
  common(m);
  const config = validateConfig({ app: "demo", region: REGION }, "/tmp");
  const tags = Object.entries(names.tags).map(([Key, Value]) => ({ Key, Value }));
  m.s3.on(HeadBucketCommand).resolves({ BucketRegion: REGION });
  m.s3.on(GetBucketTaggingCommand).resolves({ TagSet: opts.bucketCreatedByImgfn === false ? [] : [...tags, { Key: "imgfn:created-bucket", Value: "true" }] });
  const ours = desiredRules({ bucket: BUCKET, idPrefix: names.notificationIdPrefix, functionArn: FN_ARN, prefix: "uploads/", suffixes: config.suffixes });
  notificationStore(m, { LambdaFunctionConfigurations: [...(opts.foreignRules ?? []), ...ours] });
  const want = desiredState(config, { identity: { account: ACCOUNT, partition: "aws" }, region: REGION, bucket: BUCKET, endpointUrl: opts.endpointUrl });
  m.sqs.on(GetQueueUrlCommand).resolves({ QueueUrl: QUEUE_URL });
  m.sqs.on(ListQueueTagsCommand).resolves({ Tags: names.tags });
  m.sqs.on(GetQueueAttributesCommand).resolves({
    Attributes: { SqsManagedSseEnabled: "true", MessageRetentionPeriod: String(FAILURE_RETENTION_SECONDS), Policy: JSON.stringify(failureQueuePolicy({ arn: QUEUE_ARN, roleArn: ROLE_ARN })), ApproximateNumberOfMessages: String(opts.failedEvents ?? 0), ApproximateNumberOfMessagesNotVisible: "0", ApproximateNumberOfMessagesDelayed: "0" },
  });
  m.sqs.on(DeleteQueueCommand).resolves({});
  m.lambda.on(GetFunctionEventInvokeConfigCommand).resolves({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: want.eventInvoke.maxEventAgeSeconds, DestinationConfig: { OnFailure: { Destination: QUEUE_ARN } } });
  m.logs.on(ListLogTagsCommand).resolves({ tags: names.tags });
  m.s3.on(ListObjectVersionsCommand).resolves({ Versions: Array.from({ length: opts.objects ?? 0 }, (_, i) => ({ Key: `uploads/${i}.jpg`, VersionId: "null" })) });
  m.ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryUri: REPO_URI, repositoryArn: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/imgfn-demo`, repositoryName: "imgfn-demo", imageScanningConfiguration: { scanOnPush: true } }] });
  m.ecr.on(GetLifecyclePolicyCommand).resolves({ lifecyclePolicyText: lifecyclePolicy() });
  m.ecr.on(ListTagsForResourceCommand).resolves({ tags });
  m.ecr.on(DeleteRepositoryCommand).resolves({});
  m.iam.on(GetRoleCommand).resolves({ Role: { Arn: ROLE_ARN, RoleName: "imgfn-demo-role", Path: "/", RoleId: "AROA", CreateDate: new Date(), AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(TRUST_POLICY)), Tags: tags } });
  m.iam.on(GetRolePolicyCommand).resolves({ RoleName: "imgfn-demo-role", PolicyName: names.policyName, PolicyDocument: encodeURIComponent(JSON.stringify(want.policy)) });
  m.iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [names.policyName] });
  m.iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
  m.iam.on(DeleteRolePolicyCommand).resolves({});
  m.iam.on(DeleteRoleCommand).resolves({});
  m.logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [{ logGroupName: names.logGroupName, retentionInDays: 14, arn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${names.logGroupName}:*` }] });
  m.logs.on(DeleteLogGroupCommand).resolves({});
  m.lambda.on(GetFunctionCommand).resolves({
    Configuration: {
      FunctionName: "imgfn-demo",
      FunctionArn: FN_ARN,
      Role: ROLE_ARN,
      MemorySize: 1024,
      Timeout: 30,
      Architectures: ["x86_64"],
      PackageType: "Image",
      Environment: { Variables: want.environment },
      State: "Active",
      LastUpdateStatus: "Successful",
      LastModified: "2026-11-20T10:00:00.000+0000",
    },
    Code: { RepositoryType: "ECR", ImageUri: `${REPO_URI}:latest`, ResolvedImageUri: `${REPO_URI}@${DIGEST_A}` },
    Tags: names.tags,
  });
  m.lambda.on(GetPolicyCommand).resolves({
    Policy: JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: names.permissionStatementId,
          Effect: "Allow",
          Principal: { Service: "s3.amazonaws.com" },
          Action: "lambda:InvokeFunction",
          Resource: FN_ARN,
          Condition: { StringEquals: { "AWS:SourceAccount": ACCOUNT }, ArnLike: { "AWS:SourceArn": `arn:aws:s3:::${BUCKET}` } },
        },
      ],
    }),
  });
  m.lambda.on(RemovePermissionCommand).resolves({});
  m.lambda.on(DeleteFunctionCommand).resolves({});
}

/** An ImageBuilder that records its requests and "pushes" instantly. */
export class FakeBuilder implements ImageBuilder {
  readonly name = "oci" as const;
  requests: BuildRequest[] = [];
  constructor(private digest = DIGEST_A) {}
  async build(request: BuildRequest) {
    this.requests.push(request);
    return { digest: this.digest, imageUri: `${request.repository}@${this.digest}`, layers: [], uploadedBytes: 0 };
  }
}
