// The local S3 (the project's own S3 server on loopback) and the trigger: which uploads fire, and the event JSON
// shaped and URL-encoded as S3 sends it. Uses a tiny fixture function that returns its event.
import { CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand, type S3Client } from "@aws-sdk/client-s3";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeS3Key } from "../../handler/keys.js";
import { desiredRules } from "../../src/aws/s3.js";
import { resourceNames, validateConfig } from "../../src/config.js";
import { triggerRules } from "../../src/local/events.js";
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
  const requestIds: (string | undefined)[] = [];
  for (const Key of keys) requestIds.push((await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key, Body: Buffer.from("x".repeat(42)) }))).$metadata.requestId);
  await stack.idle();
  return requestIds;
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
    const [requestId] = await putAndSettle([key]);
    expect(delivered).toHaveLength(1);
    const event = delivered[0];
    expect(Object.keys(event)).toEqual(["Records"]);
    const r = event.Records[0];
    expect(r).toMatchObject({
      eventVersion: "2.1",
      eventSource: "aws:s3",
      awsRegion: "eu-central-1",
      eventName: "ObjectCreated:Put",
      // the uploader's access key, and the id the server answered the PUT with, as S3 does
      userIdentity: { principalId: "AWS:IMGFNLOCAL" },
      requestParameters: { sourceIPAddress: expect.any(String) },
      responseElements: { "x-amz-request-id": requestId, "x-amz-id-2": expect.any(String) },
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

  it("reports CopyObject and a completed multipart upload as ObjectCreated with S3's names and an ETag", async () => {
    delivered.length = 0;
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: "staging/src.jpg", Body: Buffer.from("y".repeat(17)) }));
    await s3.send(new CopyObjectCommand({ Bucket: stack.bucket, Key: "in/copied.jpg", CopySource: `${stack.bucket}/staging/src.jpg` }));
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: stack.bucket, Key: "in/big part.png" }));
    const part = await s3.send(new UploadPartCommand({ Bucket: stack.bucket, Key: "in/big part.png", UploadId, PartNumber: 1, Body: Buffer.from("z".repeat(1000)) }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: stack.bucket, Key: "in/big part.png", UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    await stack.idle();
    const byKey = Object.fromEntries(delivered.map((e) => [decodeS3Key(e.Records[0].s3.object.key), e.Records[0]]));
    expect(Object.keys(byKey).sort()).toEqual(["in/big part.png", "in/copied.jpg"]);
    expect(byKey["in/copied.jpg"].eventName).toBe("ObjectCreated:Copy");
    expect(byKey["in/copied.jpg"].s3.object).toMatchObject({ size: 17, eTag: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(byKey["in/big part.png"].eventName).toBe("ObjectCreated:CompleteMultipartUpload");
    expect(byKey["in/big part.png"].s3.object).toMatchObject({ key: "in/big+part.png", size: 1000, eTag: expect.stringMatching(/^[0-9a-f]{32}/) });
  });

  it("uses the rules deploy configures, Ids included (one per suffix, case kept apart)", () => {
    const config = validateConfig({ app: "events", inputPrefix: "in/", outputPrefix: "out/", suffixes: [".jpg", ".JPG", ".j-p-g", ".png"] }, root);
    const deployed = desiredRules({ bucket: "b", idPrefix: resourceNames(config).notificationIdPrefix, functionArn: "arn", prefix: config.inputPrefix, suffixes: config.suffixes });
    const local = triggerRules(config);
    expect(local.map((r) => r.id)).toEqual(deployed.map((r) => r.Id));
    expect(new Set(local.map((r) => r.id)).size).toBe(local.length);
    const filters = deployed.map((r) => Object.fromEntries((r.Filter?.Key?.FilterRules ?? []).map((f) => [f.Name, f.Value])));
    expect(local.map((r) => ({ prefix: r.prefix, suffix: r.suffix }))).toEqual(filters.map((f) => ({ prefix: f.prefix ?? "", suffix: f.suffix ?? "" })));
  });

  it("names the rule that fired in configurationId, as S3 does", async () => {
    delivered.length = 0;
    await putAndSettle(["in/id.png"]);
    expect(delivered[0].Records[0].s3.configurationId).toBe("imgfn-events-png");
  });
});
