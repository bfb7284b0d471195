// The local S3 server with the AWS SDK v3 at its default settings (checksums on, aws-chunked
// bodies for streams): byte-identical round trips, every call imgfn and its users make, S3's errors,
// the keys S3 allows, the events each write fires, and a restart.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type ChecksumAlgorithm,
} from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_CREDENTIALS, localS3Client } from "../../src/local/s3.js";
import { footprint, startLocalS3Fixture, type LocalS3Fixture } from "../helpers/local-s3.js";

let s3: LocalS3Fixture;
let client: S3Client;
const Bucket = "test-bucket";

beforeAll(async () => {
  s3 = await startLocalS3Fixture([Bucket]);
  client = localS3Client(s3.server.endpoint);
});
afterAll(async () => {
  client?.destroy();
  await s3?.close();
});

const bytes = async (res: { Body?: any }) => Buffer.from(await res.Body!.transformToByteArray());
const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e) => ({ name: e.name as string, status: e.$metadata?.httpStatusCode as number }));

describe("objects with SDK defaults", () => {
  it("round-trips bytes, Content-Type and x-amz-meta-*, with the SDK's default CRC32 verified both ways", async () => {
    const body = randomBytes(300_000);
    const put = await client.send(new PutObjectCommand({ Bucket, Key: "a/photo.jpg", Body: body, ContentType: "image/jpeg", Metadata: { camera: "x100", "shot-at": "dusk" } }));
    expect(put.ETag).toBe(`"${createHash("md5").update(body).digest("hex")}"`);
    expect(put.ChecksumCRC32).toBeDefined();
    const got = await client.send(new GetObjectCommand({ Bucket, Key: "a/photo.jpg", ChecksumMode: "ENABLED" }));
    expect((await bytes(got)).equals(body)).toBe(true);
    expect(got).toMatchObject({ ContentType: "image/jpeg", Metadata: { camera: "x100", "shot-at": "dusk" }, ContentLength: body.length, ChecksumCRC32: put.ChecksumCRC32 });
    const head = await client.send(new HeadObjectCommand({ Bucket, Key: "a/photo.jpg" }));
    expect(head).toMatchObject({ ContentLength: body.length, ETag: put.ETag, ContentType: "image/jpeg" });
  });

  it.each(["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"] as ChecksumAlgorithm[])("stores and returns a %s checksum, for a buffer and for a stream (aws-chunked with a trailer)", async (algorithm) => {
    const body = randomBytes(200_000);
    for (const [Key, Body] of [[`sums/${algorithm}-buffer`, body], [`sums/${algorithm}-stream`, Readable.from([body.subarray(0, 70_000), body.subarray(70_000)])]] as const) {
      const put = await client.send(new PutObjectCommand({ Bucket, Key, Body, ContentLength: body.length, ChecksumAlgorithm: algorithm }));
      const field = `Checksum${algorithm}` as const;
      expect(put[field]).toMatch(/^[A-Za-z0-9+/]+=*$/);
      const got = await client.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: "ENABLED" }));
      expect(got[field]).toBe(put[field]);
      expect((await bytes(got)).equals(body)).toBe(true);
    }
  });

  it("refuses a body whose checksum or Content-MD5 does not match (BadDigest), and stores nothing", async () => {
    const wrong = await errorOf(client.send(new PutObjectCommand({ Bucket, Key: "bad/crc", Body: "hello", ChecksumCRC32: "AAAAAA==" })));
    expect(wrong).toEqual({ name: "BadDigest", status: 400 });
    const md5 = await errorOf(client.send(new PutObjectCommand({ Bucket, Key: "bad/md5", Body: "hello", ContentMD5: createHash("md5").update("other").digest("base64") })));
    expect(md5).toEqual({ name: "BadDigest", status: 400 });
    expect(await errorOf(client.send(new HeadObjectCommand({ Bucket, Key: "bad/crc" })))).toEqual({ name: "NotFound", status: 404 });
  });

  it("serves byte ranges and answers out-of-range with 416 InvalidRange", async () => {
    await client.send(new PutObjectCommand({ Bucket, Key: "range.txt", Body: "0123456789" }));
    const mid = await client.send(new GetObjectCommand({ Bucket, Key: "range.txt", Range: "bytes=2-5" }));
    expect((await bytes(mid)).toString()).toBe("2345");
    expect(mid.ContentRange).toBe("bytes 2-5/10");
    expect((await bytes(await client.send(new GetObjectCommand({ Bucket, Key: "range.txt", Range: "bytes=-3" })))).toString()).toBe("789");
    expect((await bytes(await client.send(new GetObjectCommand({ Bucket, Key: "range.txt", Range: "bytes=7-" })))).toString()).toBe("789");
    expect(await errorOf(client.send(new GetObjectCommand({ Bucket, Key: "range.txt", Range: "bytes=10-20" })))).toEqual({ name: "InvalidRange", status: 416 });
  });

  it("honours If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since", async () => {
    const { ETag } = await client.send(new PutObjectCommand({ Bucket, Key: "cond.txt", Body: "v1" }));
    expect((await bytes(await client.send(new GetObjectCommand({ Bucket, Key: "cond.txt", IfMatch: ETag })))).toString()).toBe("v1");
    expect(await errorOf(client.send(new GetObjectCommand({ Bucket, Key: "cond.txt", IfMatch: '"0000"' })))).toEqual({ name: "PreconditionFailed", status: 412 });
    expect((await errorOf(client.send(new GetObjectCommand({ Bucket, Key: "cond.txt", IfNoneMatch: ETag }))))?.status).toBe(304);
    expect((await errorOf(client.send(new GetObjectCommand({ Bucket, Key: "cond.txt", IfModifiedSince: new Date(Date.now() + 60_000) }))))?.status).toBe(304);
    expect(await errorOf(client.send(new GetObjectCommand({ Bucket, Key: "cond.txt", IfUnmodifiedSince: new Date(Date.now() - 3_600_000) })))).toEqual({ name: "PreconditionFailed", status: 412 });
    // a conditional write: create only if absent
    expect(await errorOf(client.send(new PutObjectCommand({ Bucket, Key: "cond.txt", Body: "v2", IfNoneMatch: "*" })))).toEqual({ name: "PreconditionFailed", status: 412 });
  });

  it("copies an object (metadata copied or replaced) and refuses a copy onto itself that changes nothing", async () => {
    await client.send(new PutObjectCommand({ Bucket, Key: "copy/src name+1.txt", Body: "copy me", ContentType: "text/plain", Metadata: { a: "1" } }));
    const copied = await client.send(new CopyObjectCommand({ Bucket, Key: "copy/dst.txt", CopySource: `${Bucket}/${encodeURIComponent("copy/src name+1.txt")}` }));
    expect(copied.CopyObjectResult?.ETag).toBe(`"${createHash("md5").update("copy me").digest("hex")}"`);
    const dst = await client.send(new GetObjectCommand({ Bucket, Key: "copy/dst.txt" }));
    expect(dst).toMatchObject({ ContentType: "text/plain", Metadata: { a: "1" } });
    expect((await bytes(dst)).toString()).toBe("copy me");
    await client.send(new CopyObjectCommand({ Bucket, Key: "copy/dst.txt", CopySource: `${Bucket}/copy/dst.txt`, MetadataDirective: "REPLACE", ContentType: "text/x-new", Metadata: { b: "2" } }));
    expect(await client.send(new HeadObjectCommand({ Bucket, Key: "copy/dst.txt" }))).toMatchObject({ ContentType: "text/x-new", Metadata: { b: "2" } });
    expect(await errorOf(client.send(new CopyObjectCommand({ Bucket, Key: "copy/dst.txt", CopySource: `${Bucket}/copy/dst.txt` })))).toEqual({ name: "InvalidRequest", status: 400 });
    expect(await errorOf(client.send(new CopyObjectCommand({ Bucket, Key: "copy/x", CopySource: `${Bucket}/copy/none` })))).toEqual({ name: "NoSuchKey", status: 404 });
  });

  it("deletes one object and many, and says NoSuchKey / NoSuchBucket as S3 does", async () => {
    for (const k of ["del/1", "del/2", "del/3"]) await client.send(new PutObjectCommand({ Bucket, Key: k, Body: k }));
    await client.send(new DeleteObjectCommand({ Bucket, Key: "del/1" }));
    await client.send(new DeleteObjectCommand({ Bucket, Key: "del/never-there" })); // 204 as on S3
    const many = await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: "del/2" }, { Key: "del/3" }] } }));
    expect(many.Deleted?.map((d) => d.Key).sort()).toEqual(["del/2", "del/3"]);
    expect((await client.send(new ListObjectsV2Command({ Bucket, Prefix: "del/" }))).KeyCount).toBe(0);
    expect(await errorOf(client.send(new GetObjectCommand({ Bucket, Key: "del/1" })))).toEqual({ name: "NoSuchKey", status: 404 });
    expect(await errorOf(client.send(new GetObjectCommand({ Bucket: "no-such-bucket", Key: "x" })))).toEqual({ name: "NoSuchBucket", status: 404 });
  });
});

describe("listing", () => {
  const keys = ["list/a.jpg", "list/b/1.jpg", "list/b/2.jpg", "list/c.jpg", "list/d/1.jpg", "list/é.jpg", "list/😀.jpg", "list/\uffff.jpg"];
  beforeAll(async () => {
    for (const Key of keys) await client.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
  });

  it("pages ListObjectsV2 with max-keys and continuation tokens, in S3's (UTF-8 byte) order", async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix: "list/", MaxKeys: 3, ContinuationToken: token }));
      seen.push(...(page.Contents ?? []).map((o) => o.Key!));
      expect(page.KeyCount).toBeLessThanOrEqual(3);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    // U+FFFF sorts before U+1F600 in UTF-8, unlike in JavaScript's UTF-16 order
    expect(seen).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  });

  it("rolls keys up at the delimiter, pages over common prefixes, and starts after a key", async () => {
    const first = await client.send(new ListObjectsV2Command({ Bucket, Prefix: "list/", Delimiter: "/", MaxKeys: 2 }));
    expect(first.Contents?.map((o) => o.Key)).toEqual(["list/a.jpg"]);
    expect(first.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["list/b/"]);
    const second = await client.send(new ListObjectsV2Command({ Bucket, Prefix: "list/", Delimiter: "/", MaxKeys: 2, ContinuationToken: first.NextContinuationToken }));
    expect([...(second.Contents ?? []).map((o) => o.Key), ...(second.CommonPrefixes ?? []).map((p) => p.Prefix)]).toEqual(["list/c.jpg", "list/d/"]);
    const after = await client.send(new ListObjectsV2Command({ Bucket, Prefix: "list/", StartAfter: "list/c.jpg" }));
    expect(after.Contents?.[0].Key).toBe("list/d/1.jpg");
    expect(await errorOf(client.send(new ListObjectsV2Command({ Bucket, ContinuationToken: "not-a-token" })))).toEqual({ name: "InvalidArgument", status: 400 });
  });

  it("answers ListObjects (v1) with markers", async () => {
    const page = await client.send(new ListObjectsCommand({ Bucket, Prefix: "list/", Delimiter: "/", MaxKeys: 2 }));
    expect(page.IsTruncated).toBe(true);
    expect(page.NextMarker).toBe("list/b/");
    const next = await client.send(new ListObjectsCommand({ Bucket, Prefix: "list/", Delimiter: "/", Marker: page.NextMarker }));
    expect(next.Contents?.[0].Key).toBe("list/c.jpg");
  });
});

describe("buckets", () => {
  it("creates, lists, heads and deletes buckets, with S3's errors", async () => {
    await client.send(new CreateBucketCommand({ Bucket: "second-bucket" }));
    expect((await client.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(["second-bucket", Bucket]);
    await client.send(new HeadBucketCommand({ Bucket: "second-bucket" }));
    expect(await errorOf(client.send(new CreateBucketCommand({ Bucket: "second-bucket" })))).toEqual({ name: "BucketAlreadyOwnedByYou", status: 409 });
    expect(await errorOf(client.send(new CreateBucketCommand({ Bucket: "Bad_Name" })))).toEqual({ name: "InvalidBucketName", status: 400 });
    await client.send(new PutObjectCommand({ Bucket: "second-bucket", Key: "x", Body: "x" }));
    expect(await errorOf(client.send(new DeleteBucketCommand({ Bucket: "second-bucket" })))).toEqual({ name: "BucketNotEmpty", status: 409 });
    await client.send(new DeleteObjectCommand({ Bucket: "second-bucket", Key: "x" }));
    await client.send(new DeleteBucketCommand({ Bucket: "second-bucket" }));
    expect(await errorOf(client.send(new HeadBucketCommand({ Bucket: "second-bucket" })))).toEqual({ name: "NotFound", status: 404 });
  });
});

describe("multipart uploads", () => {
  it("assembles parts with S3's multipart ETag and a composite checksum, lists parts, and aborts", async () => {
    const Key = "mpu/big.bin";
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1234)];
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: "application/x-big", ChecksumAlgorithm: "CRC32" }));
    const done = [];
    for (const [i, Body] of parts.entries()) {
      const r = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body, ChecksumAlgorithm: "CRC32" }));
      done.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 });
    }
    const listed = await client.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([[1, parts[0].length], [2, 1234]]);
    const completed = await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }));
    const md5s = Buffer.concat(parts.map((p) => createHash("md5").update(p).digest()));
    expect(completed.ETag).toBe(`"${createHash("md5").update(md5s).digest("hex")}-2"`);
    expect(completed.ChecksumCRC32).toMatch(/-2$/);
    const got = await client.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: "ENABLED" }));
    expect(got.ContentType).toBe("application/x-big");
    expect((await bytes(got)).equals(Buffer.concat(parts))).toBe(true);

    const again = await client.send(new CreateMultipartUploadCommand({ Bucket, Key: "mpu/aborted" }));
    await client.send(new UploadPartCommand({ Bucket, Key: "mpu/aborted", UploadId: again.UploadId, PartNumber: 1, Body: "x" }));
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key: "mpu/aborted", UploadId: again.UploadId }));
    expect(await errorOf(client.send(new ListPartsCommand({ Bucket, Key: "mpu/aborted", UploadId: again.UploadId })))).toEqual({ name: "NoSuchUpload", status: 404 });
  });

  it("refuses parts under 5 MB except the last (EntityTooSmall) and an ETag that is not the part's (InvalidPart)", async () => {
    const Key = "mpu/small";
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const a = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: "small" }));
    const b = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: "small" }));
    expect(await errorOf(client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: a.ETag }, { PartNumber: 2, ETag: b.ETag }] } })))).toEqual({ name: "EntityTooSmall", status: 400 });
    expect(await errorOf(client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"ffff"' }] } })))).toEqual({ name: "InvalidPart", status: 400 });
  });
});

describe("keys", () => {
  const long = `k/${"x".repeat(1022)}`;
  const keys = ["uploads/../../../../x/y.jpg", "pct/%2F/b%2Fc.jpg", "unicode/猫 café ü 😀.jpg", "spaces/my photo (1).jpg", "plus/a+b+c.jpg", "//double//slash/", "./dot/./.", long];

  it("round-trips every key S3 allows, 1024 bytes included, and lists each exactly", async () => {
    expect(Buffer.byteLength(long)).toBe(1024);
    for (const Key of keys) {
      await client.send(new PutObjectCommand({ Bucket, Key, Body: `body of ${Key}` }));
      const got = await client.send(new GetObjectCommand({ Bucket, Key }));
      expect((await bytes(got)).toString()).toBe(`body of ${Key}`);
    }
    const listed: string[] = [];
    for (const prefix of ["uploads/", "pct/", "unicode/", "spaces/", "plus/", "//", "./", "k/"]) {
      listed.push(...((await client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!));
    }
    expect(listed.sort()).toEqual([...keys].sort());
    // nothing was written where a path built from the key would point, or anywhere outside the data folder
    for (const base of [join(s3.dir, "data"), join(s3.dir, "data", "buckets", Bucket)]) expect(existsSync(resolve(base, "uploads/../../../../x/y.jpg"))).toBe(false);
    expect((await footprint(s3.dir)).every((f) => f.startsWith(join(s3.dir, "data", "buckets", Bucket) + "/"))).toBe(true);
  });

  it("refuses a key of 1025 bytes with KeyTooLongError", async () => {
    expect(await errorOf(client.send(new PutObjectCommand({ Bucket, Key: `${long}y`, Body: "x" })))).toEqual({ name: "KeyTooLongError", status: 400 });
  });
});

describe("authentication", () => {
  it("refuses a wrong secret (SignatureDoesNotMatch) and an unknown key (InvalidAccessKeyId)", async () => {
    const endpoint = s3.server.endpoint;
    const wrongSecret = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { ...LOCAL_CREDENTIALS, secretAccessKey: "guess" } });
    const wrongKey = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey } });
    expect(await errorOf(wrongSecret.send(new PutObjectCommand({ Bucket, Key: "auth/x", Body: "x" })))).toEqual({ name: "SignatureDoesNotMatch", status: 403 });
    expect(await errorOf(wrongKey.send(new GetObjectCommand({ Bucket, Key: "a/photo.jpg" })))).toEqual({ name: "InvalidAccessKeyId", status: 403 });
    wrongSecret.destroy();
    wrongKey.destroy();
  });
});

describe("events and restart", () => {
  it("fires exactly one S3-shaped event per created or removed object, and keeps every object across a restart", async () => {
    s3.events.length = 0;
    await client.send(new PutObjectCommand({ Bucket, Key: "ev/put.jpg", Body: "put" }));
    await client.send(new CopyObjectCommand({ Bucket, Key: "ev/copy.jpg", CopySource: `${Bucket}/ev/put.jpg` }));
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key: "ev/mpu.jpg" }));
    const part = await client.send(new UploadPartCommand({ Bucket, Key: "ev/mpu.jpg", UploadId, PartNumber: 1, Body: "mpu" }));
    await client.send(new CompleteMultipartUploadCommand({ Bucket, Key: "ev/mpu.jpg", UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    await client.send(new DeleteObjectCommand({ Bucket, Key: "ev/put.jpg" }));
    expect(s3.events.map((e) => [e.eventName, e.key, e.size])).toEqual([
      ["ObjectCreated:Put", "ev/put.jpg", 3],
      ["ObjectCreated:Copy", "ev/copy.jpg", 3],
      ["ObjectCreated:CompleteMultipartUpload", "ev/mpu.jpg", 3],
      ["ObjectRemoved:Delete", "ev/put.jpg", undefined],
    ]);
    expect(s3.events[0].eTag).toBe(createHash("md5").update("put").digest("hex"));
    expect(s3.events[2].eTag).toMatch(/^[0-9a-f]{32}-1$/);
    const sequencers = s3.events.map((e) => e.sequencer);
    expect([...sequencers].sort()).toEqual(sequencers);

    const before = (await client.send(new ListObjectsV2Command({ Bucket }))).KeyCount;
    await s3.restart();
    client.destroy();
    client = localS3Client(s3.server.endpoint);
    expect((await client.send(new ListObjectsV2Command({ Bucket }))).KeyCount).toBe(before);
    expect((await bytes(await client.send(new GetObjectCommand({ Bucket, Key: "ev/copy.jpg" })))).toString()).toBe("put");
  });
});
