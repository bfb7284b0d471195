// `imgfn invoke` against the deployed function, played by moto_server over HTTP (the CLI's own SDK
// clients through --endpoint-url). moto runs no function without Docker: its docker-free Lambda
// answers a synchronous Invoke with a queued payload and no log tail, which is what the handler
// would return; the result object it names is read back from moto's S3. The REPORT line's
// decoding is covered against Lambda's response shape in test/unit/invoke-deployed.test.ts.
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { CreateFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { motoUnavailable, startMoto, type Moto } from "../helpers/moto.js";
import { zipOf } from "../helpers/zip.js";

const skip = motoUnavailable();
const BUCKET = "imgfn-invoke-photos";
let moto: Moto;
let project: string;
let savedEnv: NodeJS.ProcessEnv | undefined;

const cli = (args: string[]) => runCli(["--endpoint-url", moto.endpoint, "--region", "us-east-1", ...args], { cwd: project });

describe.skipIf(skip)("imgfn invoke against an AWS API emulator (moto)", () => {
  beforeAll(async () => {
    moto = await startMoto();
    savedEnv = { ...process.env };
    Object.assign(process.env, moto.env); // the CLI runs in this process: its SDK reads credentials here
    // the docker-free Lambda; set before the function exists (it keeps its own functions)
    await fetch(`${moto.endpoint}/moto-api/config`, { method: "POST", body: JSON.stringify({ lambda: { use_docker: false } }) });
    project = await mkdtemp(join(tmpdir(), "imgfn-moto-invoke-"));
    await writeFile(join(project, "imgfn.config.json"), JSON.stringify({ app: "invoke", bucket: BUCKET, region: "us-east-1" }));
    const common = { endpoint: moto.endpoint, region: "us-east-1", credentials: { accessKeyId: "testing", secretAccessKey: "testing" } };
    const iam = new IAMClient(common);
    await iam.send(new CreateRoleCommand({ RoleName: "imgfn-invoke-role", AssumeRolePolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] }) }));
    iam.destroy();
    const lambda = new LambdaClient(common);
    await lambda.send(new CreateFunctionCommand({ FunctionName: "imgfn-invoke", Runtime: "nodejs20.x", Handler: "index.handler", Role: "arn:aws:iam::123456789012:role/imgfn-invoke-role", Code: { ZipFile: zipOf("index.mjs", "export const handler = async () => ({});\n") } }));
    lambda.destroy();
    const s3 = new S3Client({ ...common, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "uploads/my cat.jpg", Body: Buffer.alloc(2048, 1) }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "results/my cat.jpg.json", Body: JSON.stringify({ input: { bucket: BUCKET, key: "uploads/my cat.jpg" }, predictions: [{ label: "Egyptian cat", index: 285, score: 0.71 }, { label: "tabby, tabby cat", index: 281, score: 0.2 }] }) }));
    s3.destroy();
  });
  afterAll(async () => {
    if (savedEnv) process.env = savedEnv;
    await moto?.close();
    if (project) await rm(project, { recursive: true, force: true });
  });

  const queue = (payload: unknown) =>
    fetch(`${moto.endpoint}/moto-api/static/lambda-simple/response`, { method: "POST", body: JSON.stringify({ results: [JSON.stringify(payload)], region: "us-east-1" }) });

  it("invokes imgfn-<app> synchronously and prints each record's predictions from the result object", async () => {
    await queue({ results: [{ key: "uploads/my cat.jpg", status: "classified", outputKey: "results/my cat.jpg.json" }] });
    const r = await cli(["invoke", "--key", "uploads/my cat.jpg"]);
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("uploads/my cat.jpg  classified → results/my cat.jpg.json");
    expect(r.stdout).toMatch(/1\.\s+71\.0%\s+Egyptian cat/);
    expect(r.stdout).toMatch(/2\.\s+20\.0%\s+tabby, tabby cat/);
  });

  it("--json: the handler's result and each record's result document", async () => {
    await queue({ results: [{ key: "uploads/my cat.jpg", status: "classified", outputKey: "results/my cat.jpg.json" }] });
    const r = await cli(["invoke", "--key", "uploads/my cat.jpg", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.result).toEqual({ results: [{ key: "uploads/my cat.jpg", status: "classified", outputKey: "results/my cat.jpg.json" }] });
    expect(doc.records[0].result.predictions[0]).toMatchObject({ label: "Egyptian cat", index: 285 });
  });

  it("sends S3's event for the key: form-encoded key, the object's size and ETag from HeadObject", async () => {
    // nothing queued: moto's docker-free Lambda answers with the payload it was sent
    const r = await cli(["invoke", "--key", "uploads/my cat.jpg", "--json"]);
    expect(r.code).toBe(0);
    const sent = JSON.parse(r.stdout).result;
    expect(sent.Records[0]).toMatchObject({ eventSource: "aws:s3", eventName: "ObjectCreated:Put", awsRegion: "us-east-1", s3: { bucket: { name: BUCKET }, object: { key: "uploads/my+cat.jpg", size: 2048, eTag: expect.stringMatching(/^[0-9a-f]{32}$/) } } });
  });
});
