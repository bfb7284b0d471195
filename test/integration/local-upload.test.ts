// Waiting for a result against the real local S3: a result left by an earlier upload of the same
// key (written in the same second, so Last-Modified cannot tell them apart) is not this upload's.
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ResultTimeout, uploadFile, waitForResult } from "../../src/pipeline/upload.js";
import { startS3, type TestS3 } from "../helpers/s3.js";

let s3: TestS3;
let dir: string;

beforeAll(async () => {
  s3 = await startS3("upload-bucket");
  dir = await mkdtemp(join(tmpdir(), "imgfn-upload-"));
});

afterAll(async () => {
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

const result = (etag: string, label: string) => JSON.stringify({ input: { bucket: "upload-bucket", key: "uploads/x.jpg", etag }, predictions: [{ label, index: 0, score: 1 }] });

describe("waiting for a result", () => {
  it("ignores a same-second result written for another version of the object, and takes the one for this upload", async () => {
    const file = join(dir, "x.jpg");
    await writeFile(file, "second version");
    const notBefore = Date.now();
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "results/x.jpg.json", Body: result("0123456789abcdef0123456789abcdef", "from the first upload") }));
    const etag = await uploadFile(s3.client, s3.bucket, "uploads/x.jpg", file);
    expect(etag).toMatch(/^[0-9a-f]{32}$/);

    await expect(waitForResult(s3.client, s3.bucket, "results/x.jpg.json", notBefore, { etag, timeout: 400 })).rejects.toBeInstanceOf(ResultTimeout);

    const waiting = waitForResult(s3.client, s3.bucket, "results/x.jpg.json", notBefore, { etag, timeout: 10_000 });
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "results/x.jpg.json", Body: result(etag!, "from this upload") }));
    expect((await waiting).predictions?.[0].label).toBe("from this upload");
  });

  it("accepts a result without an ETag (written before the object was read)", async () => {
    const notBefore = Date.now();
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "results/y.jpg.json", Body: JSON.stringify({ input: { bucket: s3.bucket, key: "uploads/y.jpg" }, error: { code: "OBJECT_TOO_LARGE", message: "too big" } }) }));
    const doc = await waitForResult(s3.client, s3.bucket, "results/y.jpg.json", notBefore, { etag: "ffffffffffffffffffffffffffffffff", timeout: 5_000 });
    expect(doc.error?.code).toBe("OBJECT_TOO_LARGE");
  });
});

describe("collecting a folder", () => {
  it("uploads the images with their relative paths and names every file it leaves out, and why", async () => {
    const { collectFiles } = await import("../../src/commands/upload.js");
    const folder = join(dir, "photos");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(folder, "sub dir"), { recursive: true });
    for (const f of ["a.jpg", "sub dir/b é.png", "notes.txt", "sub dir/C.Jpg"]) await writeFile(join(folder, f), "x");
    const said: string[] = [];
    const out = { info: (l: string) => said.push(l), warn: (l: string) => said.push(l) } as any;
    const items = await collectFiles(dir, ["photos"], "uploads/", { suffixes: [".jpg", ".png"] }, out);
    expect(items.map((i) => i.key)).toEqual(["uploads/a.jpg", "uploads/sub dir/b é.png"]);
    expect(said.join("\n")).toMatch(/not uploading 2 files .*\.jpg, \.png.*case-sensitive.*notes\.txt, sub dir\/C\.Jpg/);
  });
});
