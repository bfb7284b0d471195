// `imgfn failed`, `imgfn retry` and `imgfn backfill` against AWS, played by moto_server (real SQS,
// S3 and Lambda control-plane APIs over HTTP, reached by the CLI's own SDK clients through
// --endpoint-url). moto cannot run the function, so a retry is shown by Lambda accepting the
// asynchronous Invoke (202) and the message leaving the queue only after that.
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { CreateFunctionCommand, DeleteFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { createServer, request, type Server } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPending } from "../../src/pipeline/backfill.js";
import { runCli } from "../helpers/cli.js";
import { s3Event, s3Record } from "../helpers/events.js";
import { motoUnavailable, startMoto, type Moto } from "../helpers/moto.js";
import { zipOf } from "../helpers/zip.js";

const skip = motoUnavailable();
let moto: Moto;
let project: string;
let queueUrl: string;
let sqs: SQSClient;
let s3: S3Client;
let lambda: LambdaClient;
const BUCKET = "imgfn-moto-photos";
let savedEnv: NodeJS.ProcessEnv | undefined;
/** The original events put in the queue, by key. */
const sentEvents = new Map<string, unknown>();
/** Between the CLI and moto: every call the CLI makes, in order (operation and body). */
let recorder: Server;
let recorderEndpoint: string;
const calls: { operation: string; invocationType?: string; body: string }[] = [];

async function startRecorder(upstream: URL): Promise<void> {
  recorder = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const target = req.headers["x-amz-target"];
      const operation = typeof target === "string" ? target.split(".").pop()! : `${req.method} ${req.url!.split("?")[0]}`;
      calls.push({ operation, invocationType: req.headers["x-amz-invocation-type"] as string | undefined, body: body.toString("utf8") });
      const fwd = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      });
      fwd.end(body);
    });
  });
  await new Promise<void>((r) => recorder.listen(0, "127.0.0.1", r));
  recorderEndpoint = `http://127.0.0.1:${(recorder.address() as { port: number }).port}`;
}

/** A Lambda on-failure destination record, as Lambda writes it to the queue. */
function destinationRecord(key: string, opts: { error?: { errorType: string; errorMessage: string }; condition?: string; at: string }) {
  return {
    version: "1.0",
    timestamp: opts.at,
    requestContext: {
      requestId: `req-${key}`,
      functionArn: "arn:aws:lambda:us-east-1:123456789012:function:imgfn-moto:$LATEST",
      condition: opts.condition ?? "RetriesExhausted",
      approximateInvokeCount: opts.condition === "EventAgeExceeded" ? 1 : 3,
    },
    requestPayload: s3Event(s3Record(BUCKET, key, 1234, "abcdefabcdefabcdefabcdefabcdef12")),
    responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
    ...(opts.error ? { responsePayload: opts.error } : {}),
  };
}

const cli = (args: string[]) => runCli(["--endpoint-url", recorderEndpoint, "--region", "us-east-1", ...args], { cwd: project });
const waiting = async () => Number((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }))).Attributes?.ApproximateNumberOfMessages);

async function createFunction() {
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: "imgfn-moto",
      Runtime: "nodejs20.x",
      Handler: "index.handler",
      Role: "arn:aws:iam::123456789012:role/imgfn-moto-role",
      Code: { ZipFile: zipOf("index.mjs", "export const handler = async () => ({});\n") },
    }),
  );
}

describe.skipIf(skip)("failed, retry and backfill against an AWS API emulator (moto)", () => {
  beforeAll(async () => {
    moto = await startMoto();
    // the CLI runs in this process: its SDK clients read credentials from process.env
    savedEnv = { ...process.env };
    Object.assign(process.env, moto.env);
    await startRecorder(new URL(moto.endpoint));
    project = await mkdtemp(join(tmpdir(), "imgfn-moto-"));
    await writeFile(join(project, "imgfn.config.json"), JSON.stringify({ app: "moto", bucket: BUCKET, region: "us-east-1" }));
    const common = { endpoint: moto.endpoint, region: "us-east-1", credentials: { accessKeyId: "testing", secretAccessKey: "testing" } };
    sqs = new SQSClient(common);
    s3 = new S3Client({ ...common, forcePathStyle: true });
    lambda = new LambdaClient(common);
    const iam = new IAMClient(common);
    await iam.send(new CreateRoleCommand({ RoleName: "imgfn-moto-role", AssumeRolePolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] }) }));
    iam.destroy();
    await createFunction();
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "imgfn-moto-failed" }))).QueueUrl!;
    const send = (body: ReturnType<typeof destinationRecord>) => {
      sentEvents.set(decodeURIComponent(body.requestPayload.Records[0].s3.object.key.replace(/\+/g, " ")), body.requestPayload);
      return sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(body) }));
    };
    await send(destinationRecord("uploads/cat one.jpg", { at: "2026-12-01T08:00:00.000Z", error: { errorType: "Runtime.OutOfMemory", errorMessage: "RequestId: r1 Error: Runtime exited with error: signal: killed" } }));
    await send(destinationRecord("uploads/dog.jpg", { at: "2026-12-01T08:05:00.000Z", error: { errorType: "AccessDenied", errorMessage: "S3 denied s3:GetObject" } }));
    await send(destinationRecord("uploads/old.jpg", { at: "2026-12-01T07:00:00.000Z", condition: "EventAgeExceeded" }));
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "not a destination record" }));
  });
  afterAll(async () => {
    sqs?.destroy();
    s3?.destroy();
    lambda?.destroy();
    await new Promise((r) => recorder?.close(r));
    await moto?.close();
    if (savedEnv) process.env = savedEnv;
    if (project) await rm(project, { recursive: true, force: true });
  });

  it("imgfn failed lists the queue's events: key, error type and message, attempts, last failure", async () => {
    const res = await cli(["--json", "failed"]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout);
    expect(doc.source).toBe("SQS queue imgfn-moto-failed");
    expect(doc.count).toBe(4);
    const byKey = Object.fromEntries(doc.events.map((e: any) => [e.key ?? "(none)", e]));
    expect(byKey["uploads/cat one.jpg"]).toMatchObject({ bucket: BUCKET, errorType: "Runtime.OutOfMemory", errorMessage: expect.stringContaining("signal: killed"), attempts: 3, lastFailure: "2026-12-01T08:00:00.000Z" });
    expect(byKey["uploads/dog.jpg"]).toMatchObject({ errorType: "AccessDenied", attempts: 3 });
    expect(byKey["uploads/old.jpg"]).toMatchObject({ errorType: "EventAgeExceeded", attempts: 1 });
    expect(byKey["(none)"]).toMatchObject({ errorType: "UnknownMessage" });
    // listing hides nothing afterwards: the messages are all there for the next reader
    expect(await waiting()).toBe(4);
    const human = await cli(["failed"]);
    expect(human.stdout).toMatch(/uploads\/cat one\.jpg\s+Runtime\.OutOfMemory: RequestId: r1.*\s3\s+2026-12-01T08:00:00\.000Z/);
  });

  it("imgfn retry --key re-invokes asynchronously with the original event and deletes that message only", async () => {
    calls.length = 0;
    const res = await cli(["--json", "retry", "--key", "uploads/cat one.jpg", "--no-wait"]);
    expect(res.stderr).toBe("");
    // the path S3 uses: an asynchronous (Event) Invoke whose payload is the original event, and the
    // message deleted only after Lambda accepted it
    const invoke = calls.findIndex((c) => c.operation === "POST /2015-03-31/functions/imgfn-moto/invocations");
    const del = calls.findIndex((c) => c.operation === "DeleteMessage");
    expect(invoke).toBeGreaterThanOrEqual(0);
    expect(calls[invoke].invocationType).toBe("Event");
    expect(JSON.parse(calls[invoke].body)).toEqual(sentEvents.get("uploads/cat one.jpg"));
    expect(del).toBeGreaterThan(invoke);
    expect(calls.filter((c) => c.operation === "DeleteMessage")).toHaveLength(1);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual([expect.objectContaining({ key: "uploads/cat one.jpg", status: "retried", errorType: "Runtime.OutOfMemory" })]);
    expect(await waiting()).toBe(3);
    const left = JSON.parse((await cli(["--json", "failed"])).stdout).events.map((e: any) => e.key);
    expect(left).not.toContain("uploads/cat one.jpg");
  });

  it("a retry Lambda does not accept (no function) keeps the messages and says what to do", async () => {
    await lambda.send(new DeleteFunctionCommand({ FunctionName: "imgfn-moto" }));
    try {
      calls.length = 0;
      const res = await cli(["retry", "--key", "uploads/dog.jpg", "--no-wait"]);
      expect(res.code).toBe(1);
      expect(calls.map((c) => c.operation)).not.toContain("DeleteMessage");
      expect(res.stderr).toMatch(/function imgfn-moto does not exist in us-east-1/);
      expect(res.stderr).toMatch(/imgfn deploy/);
      expect(await waiting()).toBe(3); // released at once, nothing deleted
    } finally {
      await createFunction();
    }
  });

  it("backfill invokes the function for the objects with no current result, at bounded concurrency; --dry-run only counts", async () => {
    const etags: Record<string, string> = {};
    for (const name of ["a", "b", "c", "d", "e"]) {
      const res = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `uploads/${name}.jpg`, Body: `photo ${name}` }));
      etags[name] = res.ETag!.replace(/"/g, "");
    }
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "results/a.jpg.json", Body: JSON.stringify({ input: { etag: etags.a } }) }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "results/b.jpg.json", Body: JSON.stringify({ input: { etag: etags.b } }) }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "results/c.jpg.json", Body: JSON.stringify({ input: { etag: "0".repeat(32) } }) }));
    calls.length = 0;
    const dry = await cli(["--json", "backfill", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(calls.some((c) => c.operation.includes("/invocations"))).toBe(false);
    expect(JSON.parse(dry.stdout)).toMatchObject({ listed: 5, current: 2, pending: 3, noResult: 2, staleResult: 1, invoked: 0, keys: ["uploads/c.jpg", "uploads/d.jpg", "uploads/e.jpg"] });
    const real = await cli(["--json", "backfill", "--concurrency", "2"]);
    expect(real.stderr).toBe("");
    expect(real.code).toBe(0);
    expect(JSON.parse(real.stdout)).toMatchObject({ listed: 5, pending: 3, invoked: 3, refused: [] });
    // page by page (S3's continuation tokens): the same answer over pages of two keys
    const pagesSeen: number[] = [];
    const paged = await findPending(s3, BUCKET, { inputPrefix: "uploads/", outputPrefix: "results/", suffixes: [".jpg"] }, { pageSize: 2, onPage: (p) => pagesSeen.push(p.listed) });
    expect(pagesSeen).toEqual([2, 4, 5]);
    expect(paged.pending.map((p) => p.key)).toEqual(["uploads/c.jpg", "uploads/d.jpg", "uploads/e.jpg"]);
    // S3-shaped ObjectCreated events, one per object, each naming the object's ETag
    const events = calls.filter((c) => c.operation === "POST /2015-03-31/functions/imgfn-moto/invocations").map((c) => JSON.parse(c.body).Records[0]);
    expect(events.map((r) => `${r.eventName} ${r.s3.object.key} ${r.s3.object.eTag}`).sort()).toEqual(["c", "d", "e"].map((n) => `ObjectCreated:Put uploads/${n}.jpg ${etags[n]}`));
  });

  it("retry without --all or --key is a usage error; a missing queue names the fix", async () => {
    expect((await cli(["retry"])).code).toBe(2);
    await writeFile(join(project, "imgfn.config.json"), JSON.stringify({ app: "other", bucket: BUCKET, region: "us-east-1" }));
    try {
      const res = await cli(["failed"]);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/the failure queue imgfn-other-failed does not exist/);
      expect(res.stderr).toMatch(/imgfn deploy/);
    } finally {
      await writeFile(join(project, "imgfn.config.json"), JSON.stringify({ app: "moto", bucket: BUCKET, region: "us-east-1" }));
    }
  });
});
