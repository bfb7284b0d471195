/**
 * The SigV4 signature imgfn classify sends to an AWS_IAM Function URL, checked by an independent
 * implementation: botocore (the AWS CLI's and boto3's signer) recomputes it from what a real
 * HTTP server on loopback received.
 */
import { spawnSync } from "node:child_process";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsClients } from "../../src/aws/clients.js";
import { verifyFunctionUrl } from "../../src/aws/function-url.js";
import { functionUrlRegion, lambdaUrlSigner } from "../../src/aws/url-signer.js";
import { samplePath } from "../../src/paths.js";
import { postImage } from "../../src/pipeline/http-classify.js";
import { catJpeg } from "../helpers/images.js";

const creds = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "session-token-example" };
const SAMPLE = samplePath("cat.jpg");
const noBotocore = spawnSync("python3", ["-c", "import botocore.auth"], { stdio: "ignore" }).status !== 0;
let server: Server;
let port: number;
let received: { method: string; url: string; headers: IncomingMessage["headers"]; body: Buffer }[] = [];

/** botocore's signature for the received request (same credentials, its date, its signed headers). */
function botocoreSignature(req: (typeof received)[number], region: string): string {
  const signed = /SignedHeaders=([^,]+)/.exec(String(req.headers.authorization))![1].split(";");
  const headers = Object.fromEntries(signed.map((h) => [h, String(req.headers[h])]));
  const script = `
import json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
d = json.load(sys.stdin)
body = bytes.fromhex(d["body"])
r = AWSRequest(method=d["method"], url=d["url"], data=body, headers=d["headers"])
r.context["timestamp"] = d["headers"]["x-amz-date"]
a = SigV4Auth(Credentials(d["ak"], d["sk"], d["token"]), "lambda", d["region"])
cr = a.canonical_request(r)
print(a.signature(a.string_to_sign(r, cr), r))
`;
  const input = JSON.stringify({ method: req.method, url: `http://127.0.0.1:${port}${req.url}`, headers, body: req.body.toString("hex"), ak: creds.accessKeyId, sk: creds.secretAccessKey, token: creds.sessionToken, region });
  const out = spawnSync("python3", ["-c", script], { input, encoding: "utf8" });
  if (out.status !== 0) throw new Error(out.stderr);
  return out.stdout.trim();
}

describe.skipIf(noBotocore)("SigV4 for Function URLs", () => {
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        received.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
        if (req.url!.startsWith("/deny")) {
          res.writeHead(403, { "content-type": "application/json" });
          return res.end(JSON.stringify({ Message: "Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html" }));
        }
        res.writeHead(200, { "content-type": "application/json", "x-amzn-requestid": "abc" });
        res.end(JSON.stringify({ predictions: [{ label: "tabby", index: 281, score: 0.9 }], requestId: "abc" }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as any).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  it("signs the POST (service lambda, the body's hash, the session token) so that botocore agrees", async () => {
    received = [];
    const lambda = new LambdaClient({ region: "eu-west-1", credentials: creds });
    const answer = await postImage(`http://127.0.0.1:${port}/`, catJpeg(), { top: 3, contentType: "image/jpeg", sign: lambdaUrlSigner(lambda, "eu-west-1") });
    expect(answer.status).toBe(200);
    expect(answer.requestId).toBe("abc");
    const req = received[0];
    expect(req.url).toBe("/?top=3");
    expect(req.body.equals(catJpeg())).toBe(true);
    expect(String(req.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/);
    expect(req.headers["x-amz-security-token"]).toBe(creds.sessionToken);
    expect(req.headers["x-amz-content-sha256"]).toMatch(/^[0-9a-f]{64}$/);
    const ours = /Signature=([0-9a-f]{64})/.exec(String(req.headers.authorization))![1];
    expect(botocoreSignature(req, "eu-west-1")).toBe(ours);
  });

  it("a tampered body no longer matches the signature", async () => {
    received = [];
    const lambda = new LambdaClient({ region: "eu-west-1", credentials: creds });
    await postImage(`http://127.0.0.1:${port}/`, Buffer.from("original"), { sign: lambdaUrlSigner(lambda, "eu-west-1") });
    const req = { ...received[0], body: Buffer.from("tampered"), headers: { ...received[0].headers, "x-amz-content-sha256": "0".repeat(64) } };
    const ours = /Signature=([0-9a-f]{64})/.exec(String(received[0].headers.authorization))![1];
    expect(botocoreSignature(req, "eu-west-1")).not.toBe(ours);
  });

  it("deploy's HTTP check signs for AWS_IAM, accepts the cat, and explains a 403 with the actions to allow", async () => {
    received = [];
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey, AWS_SESSION_TOKEN: creds.sessionToken });
    try {
      const clients = new AwsClients({ region: "eu-west-1" });
      const ok = await verifyFunctionUrl(clients, `http://127.0.0.1:${port}/`, { auth: "AWS_IAM" }, SAMPLE, (i) => i === 281);
      expect(ok).toMatchObject({ status: 200, top1: "tabby", requestId: "abc" });
      expect(String(received[0].headers.authorization)).toContain("/eu-west-1/lambda/aws4_request");
      await expect(verifyFunctionUrl(clients, `http://127.0.0.1:${port}/`, { auth: "AWS_IAM" }, SAMPLE, () => false)).rejects.toThrow('the sample cat was classified as "tabby"');
      const denied = verifyFunctionUrl(clients, `http://127.0.0.1:${port}/deny`, { auth: "NONE" }, SAMPLE, () => true);
      await expect(denied).rejects.toThrow(/answered 403/);
      await expect(denied).rejects.toMatchObject({ hint: expect.stringContaining("lambda:InvokeFunctionUrl and lambda:InvokeFunction") });
      // NONE: not signed
      expect(received.at(-1)!.headers.authorization).toBeUndefined();
    } finally {
      process.env = saved;
    }
  });

  it("reads the region from a Function URL's host name", () => {
    expect(functionUrlRegion("https://abcdef0123456789abcdef0123456789.lambda-url.eu-west-1.on.aws/")).toBe("eu-west-1");
    expect(functionUrlRegion("http://127.0.0.1:3000/")).toBeUndefined();
    expect(functionUrlRegion("not a url")).toBeUndefined();
  });
});
