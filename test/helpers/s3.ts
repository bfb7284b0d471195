/** The project's own S3 server on a free loopback port, for tests (AWS SDK defaults on the client). */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { type LocalS3, localS3Client, localS3Environment, startLocalS3 } from "../../src/local/s3.js";

export interface TestS3 {
  endpoint: string;
  bucket: string;
  client: S3Client;
  /** The server's request handler (no Host/Origin guard), to serve behind a test's own front. */
  handler: LocalS3["handler"];
  /** Environment that points an SDK S3 client (the function's) at this server. */
  env: Record<string, string>;
  put(key: string, body: Uint8Array | string, contentType?: string): Promise<void>;
  getJson(key: string): Promise<any>;
  list(prefix?: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function startS3(bucket = "test-bucket"): Promise<TestS3> {
  const dir = await mkdtemp(join(tmpdir(), "imgfn-s3-"));
  // the local stack's S3 server; no trigger wired here
  const server = await startLocalS3({ directory: dir, buckets: [bucket] });
  const endpoint = server.endpoint;
  const client = localS3Client(endpoint);
  return {
    endpoint,
    bucket,
    client,
    handler: server.handler,
    env: localS3Environment(endpoint, "us-east-1"),
    async put(key, body, contentType = "application/octet-stream") {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
    },
    async getJson(key) {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return JSON.parse(await res.Body!.transformToString());
    },
    async list(prefix = "") {
      const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (res.Contents ?? []).map((o) => o.Key!).sort();
    },
    async close() {
      client.destroy();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
