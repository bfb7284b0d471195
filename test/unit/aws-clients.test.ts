import { FilterLogEventsCommand, CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { ListBucketsCommand } from "@aws-sdk/client-s3";
import { DescribeRepositoriesCommand } from "@aws-sdk/client-ecr";
import { ListFunctionsCommand } from "@aws-sdk/client-lambda";
import { ListRolesCommand } from "@aws-sdk/client-iam";
import { DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AwsClients, resolveRegion } from "../../src/aws/clients.js";
import { parseAccessDenied, translateAwsError } from "../../src/aws/errors.js";
import { pushRepository } from "../../src/aws/ecr.js";
import { CloudWatchLogSource } from "../../src/aws/logs.js";
import { UserError } from "../../src/errors.js";
import { awsError } from "./aws-fixtures.js";

/** Sends one command through the real middleware stack and captures the request before signing. */
async function requestOf(client: any, command: any): Promise<{ host: string; path: string; protocol: string; port?: number }> {
  let captured: any;
  client.middlewareStack.add(
    (_next: any) => async (args: any) => {
      captured = args.request;
      throw Object.assign(new Error("captured"), { name: "Captured" });
    },
    { step: "build", name: "capture", priority: "low" },
  );
  await client.send(command).catch((err: Error) => {
    if (err.name !== "Captured") throw err;
  });
  return { host: captured.hostname, path: captured.path, protocol: captured.protocol, port: captured.port };
}

describe("client factory", () => {
  // the default chain finds these; nothing is sent anywhere (requests are captured before signing)
  process.env.AWS_ACCESS_KEY_ID ??= "AKIDEXAMPLE";
  process.env.AWS_SECRET_ACCESS_KEY ??= "secret";
  it("--endpoint-url reaches every client (S3 path-style)", async () => {
    const clients = new AwsClients({ region: "eu-west-1", endpointUrl: "http://127.0.0.1:4566" });
    const sends: [string, any, any][] = [
      ["s3", clients.s3, new ListBucketsCommand({})],
      ["ecr", clients.ecr, new DescribeRepositoriesCommand({})],
      ["lambda", clients.lambda, new ListFunctionsCommand({})],
      ["iam", clients.iam, new ListRolesCommand({})],
      ["logs", clients.logs, new DescribeLogGroupsCommand({})],
      ["sts", clients.sts, new GetCallerIdentityCommand({})],
    ];
    for (const [name, client, command] of sends) {
      const req = await requestOf(client, command);
      expect({ name, host: req.host, port: req.port, protocol: req.protocol }).toEqual({ name, host: "127.0.0.1", port: 4566, protocol: "http:" });
    }
    expect(await clients.s3.config.forcePathStyle).toBe(true);
  });

  it("without an endpoint, each client talks to AWS in the region", async () => {
    const clients = new AwsClients({ region: "eu-west-1" });
    expect((await requestOf(clients.lambda, new ListFunctionsCommand({}))).host).toBe("lambda.eu-west-1.amazonaws.com");
    expect((await requestOf(clients.ecr, new DescribeRepositoriesCommand({}))).host).toBe("api.ecr.eu-west-1.amazonaws.com");
    expect(clients.s3.config.forcePathStyle).toBeFalsy();
  });

  it("passes the profile to every client", () => {
    const clients = new AwsClients({ region: "eu-west-1", profile: "work" });
    for (const c of clients.all()) expect((c as any).config.profile).toBe("work");
  });

  it("--registry replaces the registry host ECR names, keeping the repository path", () => {
    const uri = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/imgfn-demo";
    expect(pushRepository(uri)).toBe(uri);
    expect(pushRepository(uri, "localhost:4566")).toBe("localhost:4566/imgfn-demo");
    expect(pushRepository(uri, "https://registry.example:5000/")).toBe("registry.example:5000/imgfn-demo");
  });
});

describe("region", () => {
  const saved: Record<string, string | undefined> = {};
  const KEYS = ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"];
  beforeEach(() => {
    for (const k of KEYS) saved[k] = process.env[k];
    for (const k of KEYS) delete process.env[k];
    process.env.AWS_CONFIG_FILE = join(tmpdir(), "imgfn-no-such-aws-config");
  });
  afterEach(() => {
    for (const k of KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it("takes --region, then the config, then AWS_REGION, then AWS_DEFAULT_REGION (empty counts as unset)", async () => {
    const env = { AWS_REGION: "", AWS_DEFAULT_REGION: "ap-south-1" };
    expect(await resolveRegion({ region: "eu-west-1" }, { region: "us-east-2" }, env)).toBe("eu-west-1");
    expect(await resolveRegion({}, { region: "us-east-2" }, env)).toBe("us-east-2");
    expect(await resolveRegion({}, {}, { AWS_REGION: "eu-north-1", AWS_DEFAULT_REGION: "ap-south-1" })).toBe("eu-north-1");
    expect(await resolveRegion({}, {}, env)).toBe("ap-south-1");
  });

  it("reads the profile's region from the shared config file", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "imgfn-aws-")), "config");
    writeFileSync(file, "[profile work]\nregion = sa-east-1\n");
    process.env.AWS_CONFIG_FILE = file;
    expect(await resolveRegion({ profile: "work" }, {}, {})).toBe("sa-east-1");
  });

  it("without any region says how to set one", async () => {
    const err = await resolveRegion({}, {}, {}).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe("no AWS region configured");
    expect(err.hint).toContain("--region");
  });
});

describe("error translation", () => {
  it("names the refused action and resource from AccessDenied", () => {
    const msg = "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::123456789012:role/imgfn-demo-role because no identity-based policy allows the iam:CreateRole action";
    const err = translateAwsError(awsError("AccessDenied", msg, 403)) as UserError;
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe("AWS denied iam:CreateRole on arn:aws:iam::123456789012:role/imgfn-demo-role for arn:aws:iam::123456789012:user/dev");
    expect(err.hint).toContain("allow iam:CreateRole");
    expect(parseAccessDenied(`User: u is not authorized to perform: s3:CreateBucket on resource: "arn:aws:s3:::b" because x`).resource).toBe("arn:aws:s3:::b");
  });

  it("falls back to the operation when S3 only says Access Denied", () => {
    const err = translateAwsError(awsError("AccessDenied", "Access Denied", 403), { operation: "s3:PutBucketNotificationConfiguration" }) as UserError;
    expect(err.message).toBe("AWS denied s3:PutBucketNotificationConfiguration");
  });

  it("explains missing credentials and an expired SSO session with the next step", () => {
    const none = translateAwsError(awsError("CredentialsProviderError", "Could not load credentials from any providers"), { profile: "work" }) as UserError;
    expect(none.message).toBe(`no AWS credentials found for profile "work"`);
    expect(none.hint).toContain("aws sso login --profile work");
    const sso = translateAwsError(awsError("TokenProviderError", "The SSO session associated with this profile has expired or is otherwise invalid. To refresh this SSO session run aws sso login with the corresponding profile.")) as UserError;
    expect(sso.message).toBe("your AWS SSO session has expired");
    expect(translateAwsError(awsError("ExpiredTokenException", "The security token included in the request is expired"))).toBeInstanceOf(UserError);
  });

  it("lets every other AWS error through unchanged, so steps can branch on its name", () => {
    const e = awsError("ResourceConflictException", "An update is in progress", 409);
    expect(translateAwsError(e)).toBe(e);
  });
});

describe("CloudWatch log source", () => {
  let logs: ReturnType<typeof mockClient>;
  beforeEach(() => {
    logs = mockClient(CloudWatchLogsClient);
  });
  afterEach(() => logs.restore());

  it("follows nextToken, de-duplicates events at the cursor boundary, and keeps polling with --follow", async () => {
    const ev = (id: string, ts: number, message = id) => ({ eventId: id, timestamp: ts, message, logStreamName: "s" });
    logs
      .on(FilterLogEventsCommand)
      .resolvesOnce({ events: [ev("a", 1000), ev("b", 2000)], nextToken: "t1" })
      .resolvesOnce({ events: [ev("c", 3000)] })
      // the next poll starts at 3000 again: "c" comes back and must not repeat; "d" shares its millisecond
      .resolvesOnce({ events: [ev("c", 3000), ev("d", 3000), ev("e", 4000)] })
      .resolves({ events: [] });
    const controller = new AbortController();
    const slept: number[] = [];
    const source = new CloudWatchLogSource(new CloudWatchLogsClient({ region: "eu-west-1" }), "/aws/lambda/imgfn-demo", {
      sleep: async (ms) => {
        slept.push(ms);
        if (slept.length >= 3) controller.abort();
      },
    });
    const seen: string[] = [];
    for await (const e of source.events({ since: 0, follow: true, signal: controller.signal })) seen.push(e.eventId!);
    expect(seen).toEqual(["a", "b", "c", "d", "e"]);
    const calls = logs.commandCalls(FilterLogEventsCommand).map((c) => c.args[0].input);
    expect(calls[1]).toMatchObject({ nextToken: "t1", startTime: 0 });
    expect(calls[2]).toMatchObject({ startTime: 3000 });
    expect(slept[2]).toBeGreaterThan(slept[1]); // idle polls back off
  });

  it("treats a missing log group as 'not invoked yet' and backs off on throttling", async () => {
    logs
      .on(FilterLogEventsCommand)
      .rejectsOnce(awsError("ThrottlingException", "Rate exceeded"))
      .rejectsOnce(awsError("ResourceNotFoundException", "The specified log group does not exist.", 400));
    const notices: string[] = [];
    const slept: number[] = [];
    const source = new CloudWatchLogSource(new CloudWatchLogsClient({ region: "eu-west-1" }), "/aws/lambda/imgfn-demo", { sleep: async (ms) => void slept.push(ms), onNotice: (m) => notices.push(m) });
    const seen = [];
    for await (const e of source.events({ since: 0, filter: "ERROR" })) seen.push(e);
    expect(seen).toEqual([]);
    expect(slept).toHaveLength(1);
    expect(notices).toEqual(["log group /aws/lambda/imgfn-demo does not exist yet: the function has not been invoked (or is not deployed)"]);
    expect(logs.commandCalls(FilterLogEventsCommand)[0].args[0].input.filterPattern).toBe('"ERROR"');
  });
});
