/**
 * `imgfn invoke` against the deployed function: a synchronous Invoke with LogType Tail. No local
 * server runs Lambda functions without Docker (moto needs a daemon for Invoke), so the Lambda API
 * is mocked at the SDK level with the response shape AWS returns; the CLI parses it end to end.
 */
import { InvokeCommand } from "@aws-sdk/client-lambda";
import { GetObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { projectDir, runCli, awsError } from "./aws-fixtures.js";
import { BUCKET, type Mocks, deployedAccount, mockAws, restoreAws } from "./aws-world.js";

const REQUEST = "0f9e8d7c-6b5a-4321-8765-43210fedcba9";
const tail = [
  `START RequestId: ${REQUEST} Version: $LATEST`,
  `2026-01-01T00:00:00.000Z\t${REQUEST}\tINFO\t{"level":"info","msg":"classified","key":"uploads/cat.jpg"}`,
  `END RequestId: ${REQUEST}`,
  `REPORT RequestId: ${REQUEST}\tDuration: 61.20 ms\tBilled Duration: 62 ms\tMemory Size: 1024 MB\tMax Memory Used: 180 MB\tInit Duration: 208.00 ms\t`,
  "",
].join("\n");
const payload = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

let m: Mocks;
beforeEach(() => {
  m = mockAws();
  deployedAccount(m);
  m.s3.on(HeadObjectCommand).resolves({ ContentLength: 48213, ETag: '"0123456789abcdef0123456789abcdef"' });
  m.s3.on(GetObjectCommand).callsFake((input) => ({
    Body: { transformToString: async () => JSON.stringify({ input: { bucket: BUCKET, key: "uploads/cat.jpg" }, predictions: [{ label: "Egyptian cat", index: 285, score: 0.666 }, { label: "tabby, tabby cat", index: 281, score: 0.185 }], requestId: REQUEST, _read: input.Key }) },
  }));
});
afterEach(() => restoreAws(m));

describe("imgfn invoke (deployed function)", () => {
  it("sends a synchronous Invoke with LogType Tail and an S3 event for the key, then prints predictions and the REPORT line", async () => {
    m.lambda.on(InvokeCommand).resolves({ StatusCode: 200, ExecutedVersion: "$LATEST", LogResult: Buffer.from(tail).toString("base64"), Payload: payload({ results: [{ key: "uploads/cat.jpg", status: "classified", outputKey: "results/cat.jpg.json" }] }) as any, $metadata: { requestId: REQUEST } });
    const r = await runCli(["invoke", "--key", "uploads/cat.jpg"], { cwd: projectDir() });
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    const sent = m.lambda.commandCalls(InvokeCommand)[0].args[0].input;
    expect(sent).toMatchObject({ FunctionName: "imgfn-demo", InvocationType: "RequestResponse", LogType: "Tail" });
    const event = JSON.parse(new TextDecoder().decode(sent.Payload as Uint8Array));
    expect(event.Records[0]).toMatchObject({ eventName: "ObjectCreated:Put", s3: { bucket: { name: BUCKET }, object: { key: "uploads/cat.jpg", size: 48213, eTag: "0123456789abcdef0123456789abcdef" } } });
    // the result is read back from the event's bucket
    expect(m.s3.commandCalls(GetObjectCommand)[0].args[0].input).toEqual({ Bucket: BUCKET, Key: "results/cat.jpg.json" });
    expect(r.stdout).toContain("uploads/cat.jpg  classified → results/cat.jpg.json");
    expect(r.stdout).toMatch(/1\.\s+66\.6%\s+Egyptian cat/);
    expect(r.stdout).toContain(`REPORT ${REQUEST}  duration 61 ms (billed 62 ms), memory 180/1024 MB, init 208 ms (cold start)`);
  });

  it("--json carries the request id, the handler's result, each record's result and the REPORT figures", async () => {
    m.lambda.on(InvokeCommand).resolves({ StatusCode: 200, LogResult: Buffer.from(tail).toString("base64"), Payload: payload({ results: [{ key: "uploads/cat.jpg", status: "classified", outputKey: "results/cat.jpg.json" }] }) as any, $metadata: { requestId: REQUEST } });
    const r = await runCli(["invoke", "--key", "uploads/cat.jpg", "--json"], { cwd: projectDir() });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ requestId: REQUEST, result: { results: [{ status: "classified" }] }, report: { duration: 61.2, billedDuration: 62, memorySize: 1024, maxMemoryUsed: 180, initDuration: 208 } });
    expect(doc.records[0].result.predictions[0].label).toBe("Egyptian cat");
  });

  it("a function error exits 1 with {error} under --json, naming the request and where its stack is", async () => {
    m.lambda.on(InvokeCommand).resolves({ StatusCode: 200, FunctionError: "Unhandled", LogResult: Buffer.from(tail).toString("base64"), Payload: payload({ errorType: "NoSuchBucket", errorMessage: "The specified bucket does not exist", trace: [] }) as any, $metadata: { requestId: REQUEST } });
    const r = await runCli(["invoke", "--key", "uploads/cat.jpg", "--json"], { cwd: projectDir() });
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.error.code).toBe("FUNCTION_ERROR");
    expect(doc.error.message).toBe(`the function failed (request ${REQUEST}): NoSuchBucket: The specified bucket does not exist`);
    expect(doc.error.next).toContain(`logs --filter ${REQUEST}`);
  });

  it("a function that is not deployed says to deploy (or use --local)", async () => {
    m.lambda.on(InvokeCommand).rejects(awsError("ResourceNotFoundException", "Function not found: arn:aws:lambda:eu-west-1:123456789012:function:imgfn-demo", 404));
    const r = await runCli(["invoke", "--key", "uploads/cat.jpg"], { cwd: projectDir() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: function imgfn-demo does not exist in eu-west-1");
    expect(r.stderr).toContain(`next step: run "imgfn deploy" first, or add --local`);
  });
});
