// The local S3 (real s3rver on loopback) and the trigger: which uploads fire, and the event JSON
// shaped and URL-encoded as S3 sends it. Uses a tiny fixture function that returns its event.
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeS3Key } from "../../handler/keys.js";
import { validateConfig } from "../../src/config.js";
import type { InvocationRecord } from "../../src/local/emulator.js";
import { localS3Client } from "../../src/local/s3.js";
import { startLocalStack, type LocalStack } from "../../src/local/stack.js";

const fixtures = fileURLToPath(new URL("../fixtures/functions/", import.meta.url));
let root: string;
let stack: LocalStack;
let s3: S3Client;
const delivered: any[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "imgfn-s3ev-"));
  const config = validateConfig({ app: "events", inputPrefix: "in/", outputPrefix: "out/", suffixes: [".jpg", ".png"], region: "eu-central-1" }, root);
  stack = await startLocalStack({ config, taskRoot: join(fixtures, "echo"), root });
  stack.emulator.on("invocation", (r: InvocationRecord) => delivered.push((r.result as any)?.event));
  s3 = localS3Client(stack.s3Endpoint);
});

afterAll(async () => {
  s3?.destroy();
  await stack?.close();
  await rm(root, { recursive: true, force: true });
});

async function putAndSettle(keys: string[]) {
  for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key, Body: Buffer.from("x".repeat(42)) }));
  await stack.idle();
}

describe("local S3 trigger", () => {
  it("fires once per object matching the prefix and a suffix, case-sensitively", async () => {
    delivered.length = 0;
    await putAndSettle(["in/a.jpg", "in/b.png", "in/C.JPG", "in/d.jpeg", "other/e.jpg", "out/f.jpg", "in/sub/g.jpg", "in.jpg"]);
    const keys = delivered.map((e) => decodeS3Key(e.Records[0].s3.object.key)).sort();
    expect(keys).toEqual(["in/a.jpg", "in/b.png", "in/sub/g.jpg"]);
  });

  it("sends S3's event shape with the key URL-encoded (spaces as +)", async () => {
    delivered.length = 0;
    const key = "in/my photos/café + crème (1)!.jpg";
    await putAndSettle([key]);
    expect(delivered).toHaveLength(1);
    const event = delivered[0];
    expect(Object.keys(event)).toEqual(["Records"]);
    const r = event.Records[0];
    expect(r).toMatchObject({
      eventVersion: "2.1",
      eventSource: "aws:s3",
      awsRegion: "eu-central-1",
      eventName: "ObjectCreated:Put",
      userIdentity: { principalId: expect.stringMatching(/^AWS:/) },
      requestParameters: { sourceIPAddress: expect.any(String) },
      responseElements: { "x-amz-request-id": expect.any(String), "x-amz-id-2": expect.any(String) },
      s3: {
        s3SchemaVersion: "1.0",
        configurationId: expect.any(String),
        bucket: { name: stack.bucket, ownerIdentity: { principalId: expect.any(String) }, arn: `arn:aws:s3:::${stack.bucket}` },
        object: { size: 42, eTag: expect.stringMatching(/^[0-9a-f]{32}$/), sequencer: expect.stringMatching(/^[0-9A-F]+$/) },
      },
    });
    expect(new Date(r.eventTime).toISOString()).toBe(r.eventTime);
    expect(r.s3.object.key).toBe("in/my+photos/caf%C3%A9+%2B+cr%C3%A8me+%281%29%21.jpg");
    expect(decodeS3Key(r.s3.object.key)).toBe(key);
  });
});
