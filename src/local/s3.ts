/**
 * The local S3: s3rver on loopback, data on disk, reached by the AWS SDK like any S3 endpoint
 * (path-style). Its own event JSON differs from S3's (eventVersion 2.0, keys not URL-encoded, a
 * fixed region), so we take only the facts from it and build the event ourselves (events.ts).
 */
import { S3Client } from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { AddressInfo } from "node:net";
import S3rver from "s3rver";
import type { ObjectCreated } from "./events.js";

/** s3rver's built-in account; any signature with these keys is accepted. */
export const LOCAL_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export interface LocalS3 {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

export interface LocalS3Options {
  directory: string;
  buckets: string[];
  port?: number;
  onObjectCreated: (obj: ObjectCreated) => void;
}

export async function startLocalS3(opts: LocalS3Options): Promise<LocalS3> {
  await mkdir(opts.directory, { recursive: true });
  const server = new S3rver({
    address: "127.0.0.1",
    port: opts.port ?? 0,
    silent: true,
    directory: opts.directory,
    vhostBuckets: false,
    configureBuckets: opts.buckets.map((name) => ({ name })),
  });
  makeWritesAtomic((server as any).store);
  const completions = trackCompletions((server as any).store);
  server.on("event", (event: any) => {
    for (const record of event?.Records ?? []) {
      const name = String(record.eventName ?? "");
      if (!name.startsWith("ObjectCreated:")) continue;
      const obj = record.s3?.object ?? {};
      const bucket = record.s3?.bucket?.name;
      // s3rver reports a completed multipart upload as "Post" and a copy without its ETag;
      // S3 says CompleteMultipartUpload and gives the copy's ETag.
      const done = completions.take(bucket, obj.key);
      opts.onObjectCreated({
        bucket,
        key: obj.key,
        size: Number(obj.size ?? 0),
        eTag: obj.eTag ?? done?.eTag,
        kind: done?.kind ?? name.slice("ObjectCreated:".length),
        sourceIp: record.requestParameters?.sourceIPAddress,
      });
    }
  });
  let address: AddressInfo;
  try {
    address = (await server.run()) as AddressInfo;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot start the local S3 server on 127.0.0.1:${opts.port ?? 0}: ${code ?? (err as Error).message}`, { cause: err });
  }
  const httpServer = (server as any).httpServer as import("node:http").Server;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    async close() {
      httpServer.closeAllConnections?.();
      await server.close().catch(() => {});
    },
  };
}

/**
 * s3rver writes an object straight into its final file (and answers the PUT before a buffered
 * body is even flushed), so a GET racing a PUT reads half an object — a result JSON cut short
 * under load. S3 never shows a partial object: write to a temporary file beside it, then rename.
 */
function makeWritesAtomic(store: any): void {
  store.putObject = async function putObject(object: { bucket: string; key: string; content: Buffer | NodeJS.ReadableStream; metadata: Record<string, string> }) {
    const objectPath: string = store.getResourcePath(object.bucket, object.key, "object");
    await mkdir(dirname(objectPath), { recursive: true });
    const tmp = `${objectPath}.writing-${randomBytes(6).toString("hex")}`;
    const md5 = createHash("md5");
    let size = 0;
    const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : (object.content as NodeJS.ReadableStream);
    try {
      await pipeline(
        source,
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            md5.update(chunk);
            size += chunk.length;
            cb(null, chunk);
          },
        }),
        createWriteStream(tmp),
      );
      const digest = md5.digest("hex");
      await store.putMetadata(object.bucket, object.key, object.metadata, digest);
      await rename(tmp, objectPath);
      return { size, md5: digest };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  };
}

/**
 * Remembers the objects that CopyObject and CompleteMultipartUpload just wrote (s3rver's store
 * resolves, then the controller emits the event in the same turn), so their events can carry
 * S3's event name and ETag.
 */
function trackCompletions(store: any): { take(bucket: string, key: string): { kind: string; eTag?: string } | undefined } {
  const recent = new Map<string, { kind: string; eTag?: string }>();
  const id = (bucket: string, key: string) => `${bucket}\0${key}`;
  const unquote = (etag: unknown) => (typeof etag === "string" ? etag.replace(/"/g, "") : undefined);
  const copyObject = store.copyObject.bind(store);
  store.copyObject = async (srcBucket: string, srcKey: string, destBucket: string, destKey: string, replacementMetadata?: unknown) => {
    const metadata = await copyObject(srcBucket, srcKey, destBucket, destKey, replacementMetadata);
    recent.set(id(destBucket, destKey), { kind: "Copy", eTag: unquote(metadata?.etag) });
    return metadata;
  };
  const putObjectMultipart = store.putObjectMultipart.bind(store);
  store.putObjectMultipart = async (bucket: string, uploadId: string, parts: unknown) => {
    const key = await readFile(join(store.getResourcePath(bucket, undefined, "uploads"), uploadId, "key"), "utf8").catch(() => undefined);
    const result = await putObjectMultipart(bucket, uploadId, parts);
    if (key !== undefined) recent.set(id(bucket, key), { kind: "CompleteMultipartUpload" });
    return result;
  };
  return {
    take(bucket, key) {
      const k = id(bucket, key);
      const v = recent.get(k);
      recent.delete(k);
      return v;
    },
  };
}

/** An S3 client for the local server (checksums only when required: s3rver mangles CRC trailers). */
export function localS3Client(endpoint: string, region = "us-east-1"): S3Client {
  return new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** The environment that points an SDK inside the function at the local server. */
export function localS3Environment(endpoint: string, region: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_REQUEST_CHECKSUM_CALCULATION: "WHEN_REQUIRED",
    AWS_RESPONSE_CHECKSUM_VALIDATION: "WHEN_REQUIRED",
    IMGFN_S3_FORCE_PATH_STYLE: "1",
    AWS_REGION: region,
  };
}
