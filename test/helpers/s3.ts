/** A real S3-compatible server (s3rver) on a free loopback port, for tests. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { startLocalS3 } from "../../src/local/s3.js";

export interface TestS3 {
  endpoint: string;
  bucket: string;
  client: S3Client;
  /** Environment that points an SDK S3 client (the function's) at this server. */
  env: Record<string, string>;
  put(key: string, body: Uint8Array | string, contentType?: string): Promise<void>;
  getJson(key: string): Promise<any>;
  list(prefix?: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function startS3(bucket = "test-bucket"): Promise<TestS3> {
  const dir = await mkdtemp(join(tmpdir(), "imgfn-s3-"));
  // the local stack's s3rver (writes made atomic, as S3's are); no trigger wired here
  const server = await startLocalS3({ directory: dir, buckets: [bucket], onObjectCreated: () => {} });
  const endpoint = server.endpoint;
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  return {
    endpoint,
    bucket,
    client,
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
      AWS_RESPONSE_CHECKSUM_VALIDATION: "WHEN_REQUIRED",
      IMGFN_S3_FORCE_PATH_STYLE: "1",
    },
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
