// What a web page (or anything that is not a local program holding the credentials) gets from the
// local stack: each request refused with S3's or Lambda's error, and nothing written anywhere on
// disk, neither in the stack's folder nor where a `../` key would point if it were a path.
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config.js";
import type { InvocationRecord } from "../../src/local/emulator.js";
import { INVOKE_PATH } from "../../src/local/rie.js";
import { LOCAL_CREDENTIALS } from "../../src/local/s3.js";
import { startLocalStack, type LocalStack } from "../../src/local/stack.js";
import { footprint, rawRequest } from "../helpers/local-s3.js";

const fixtures = fileURLToPath(new URL("../fixtures/functions/", import.meta.url));
let root: string;
let outside: string;
let stack: LocalStack;
const invocations: InvocationRecord[] = [];
/** A key that would land in `outside` if the server built a path from it. */
let escapingKey: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "imgfn-refusals-"));
  outside = await mkdtemp(join(tmpdir(), "imgfn-outside-"));
  escapingKey = `uploads/${"../".repeat(12)}${outside.slice(1)}/pwned.jpg`;
  const config = validateConfig({ app: "refusals" }, root);
  stack = await startLocalStack({ config, taskRoot: join(fixtures, "echo"), root });
  stack.emulator.on("invocation", (r: InvocationRecord) => invocations.push(r));
});
afterAll(async () => {
  await stack?.close();
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

/** Runs a request and asserts that nothing on disk changed and nothing was invoked. */
async function writesNothing<T>(send: () => Promise<T>): Promise<T> {
  const before = [await footprint(root), await footprint(outside)];
  const invoked = invocations.length;
  const result = await send();
  await stack.idle();
  expect([await footprint(root), await footprint(outside)]).toEqual(before);
  expect(existsSync(join(outside, "pwned.jpg"))).toBe(false);
  expect(invocations.length).toBe(invoked);
  return result;
}

const objectUrl = (key: string) => `${stack.s3Endpoint}/${stack.bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;

describe("the local S3 refuses", () => {
  it("a browser form POST upload with a ../ key (403 AccessDenied)", async () => {
    const boundary = "----imgfnboundary";
    const body = [`--${boundary}`, `Content-Disposition: form-data; name="key"`, "", escapingKey, `--${boundary}`, `Content-Disposition: form-data; name="file"; filename="x.jpg"`, "Content-Type: image/jpeg", "", "not really a jpeg", `--${boundary}--`, ""].join("\r\n");
    const res = await writesNothing(() =>
      rawRequest(`${stack.s3Endpoint}/${stack.bucket}`, { method: "POST", headers: { "content-type": `multipart/form-data; boundary=${boundary}` }, body }),
    );
    expect(res.status).toBe(403);
    expect(res.body).toContain("<Code>AccessDenied</Code>");
    expect(res.body).toContain("form POST");
  });

  it("an unsigned PUT (403 AccessDenied)", async () => {
    const res = await writesNothing(() => rawRequest(objectUrl(escapingKey), { method: "PUT", headers: { "content-type": "image/jpeg" }, body: "unsigned bytes" }));
    expect(res.status).toBe(403);
    expect(res.body).toContain("<Code>AccessDenied</Code>");
  });

  it("a PUT signed with the wrong secret (403 SignatureDoesNotMatch)", async () => {
    const client = new S3Client({ endpoint: stack.s3Endpoint, region: "us-east-1", forcePathStyle: true, credentials: { ...LOCAL_CREDENTIALS, secretAccessKey: "not-the-secret" } });
    const err = await writesNothing(() => client.send(new PutObjectCommand({ Bucket: stack.bucket, Key: escapingKey, Body: "wrongly signed" })).then(() => undefined, (e) => e));
    client.destroy();
    expect(err?.name).toBe("SignatureDoesNotMatch");
    expect(err?.$metadata.httpStatusCode).toBe(403);
  });

  it("a request naming another Host (DNS rebinding), and one from another Origin", async () => {
    const rebound = await writesNothing(() => rawRequest(objectUrl(escapingKey), { method: "PUT", headers: { host: "evil.example", "content-type": "image/jpeg" }, body: "x" }));
    expect(rebound.status).toBe(403);
    expect(rebound.body).toContain("evil.example");
    const foreign = await writesNothing(() => rawRequest(`${stack.s3Endpoint}/${stack.bucket}`, { headers: { origin: "https://evil.example" } }));
    expect(foreign.status).toBe(403);
    expect(foreign.body).toContain("<Code>AccessDenied</Code>");
  });
});

describe("every local server bounds the headers", () => {
  it("answers 431 to headers over 16 KB, before any handler runs", async () => {
    for (const url of [objectUrl(escapingKey), `${stack.invokeEndpoint}${INVOKE_PATH}`]) {
      const res = await writesNothing(() => rawRequest(url, { method: "PUT", headers: { "x-padding": "p".repeat(20 * 1024) }, body: "x" }).catch((e) => ({ status: 0, error: e })));
      expect(res.status).toBe(431);
    }
  });
});

describe("the invoke URL refuses", () => {
  const event = JSON.stringify({ Records: [{ s3: { bucket: { name: "b" }, object: { key: "uploads/x.jpg" } } }] });

  it("a text/plain POST from a web page on another origin (no CORS preflight needed for it)", async () => {
    const res = await writesNothing(() =>
      rawRequest(`${stack.invokeEndpoint}${INVOKE_PATH}`, { method: "POST", headers: { "content-type": "text/plain", origin: "https://evil.example" }, body: event }),
    );
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).message).toMatch(/other origins are refused/);
  });

  it("a request naming another Host", async () => {
    const res = await writesNothing(() => rawRequest(`${stack.invokeEndpoint}${INVOKE_PATH}`, { method: "POST", headers: { host: "evil.example" }, body: event }));
    expect(res.status).toBe(403);
  });

  it("an asynchronous event over Lambda's 256 KB (413 RequestEntityTooLargeException)", async () => {
    const big = JSON.stringify({ pad: "x".repeat(300 * 1024) });
    const res = await writesNothing(() => rawRequest(`${stack.invokeEndpoint}${INVOKE_PATH}`, { method: "POST", headers: { "x-amz-invocation-type": "Event" }, body: big }));
    expect(res.status).toBe(413);
    expect(res.headers["x-amzn-errortype"]).toBe("RequestEntityTooLargeException");
  });

  it("but answers its own origin and localhost", async () => {
    const port = new URL(stack.invokeEndpoint).port;
    const own = await rawRequest(`${stack.invokeEndpoint}${INVOKE_PATH}`, { method: "POST", headers: { host: `localhost:${port}`, origin: `http://localhost:${port}` }, body: event });
    expect(own.status).toBe(200);
    expect(JSON.parse(own.body).event.Records[0].s3.object.key).toBe("uploads/x.jpg");
  });
});
