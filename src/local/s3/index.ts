/**
 * The local S3, as the rest of imgfn reaches it: start the server, the one local account, an SDK
 * client for it (AWS SDK defaults: checksums on), and the environment that points the function's
 * SDK at it.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { mkdir } from "node:fs/promises";
import type { ObjectCreated } from "../events.js";
import type { S3Notification } from "./events.js";
import { startS3Server, type S3Server } from "./server.js";

export type { S3Notification } from "./events.js";
export { s3EventRecord } from "./events.js";

/** The local account: requests must be SigV4-signed with these keys. */
export const LOCAL_CREDENTIALS = { accessKeyId: "IMGFNLOCAL", secretAccessKey: "imgfn-local-secret" };

export interface LocalS3 {
  endpoint: string;
  port: number;
  /** The request handler without the guard (tests serve it behind their own front). */
  handler: S3Server["handler"];
  close(): Promise<void>;
}

export interface LocalS3Options {
  directory: string;
  buckets: string[];
  port?: number;
  /** The region the server reports (x-amz-bucket-region, LocationConstraint). */
  region?: string;
  /** Every object created or removed, in the order the server committed them. */
  onEvent?: (n: S3Notification) => void;
  /** Objects created only, in the stack's older shape. */
  onObjectCreated?: (obj: ObjectCreated) => void;
}

export async function startLocalS3(opts: LocalS3Options): Promise<LocalS3> {
  await mkdir(opts.directory, { recursive: true });
  const server: S3Server = await startS3Server({
    directory: opts.directory,
    credentials: LOCAL_CREDENTIALS,
    region: opts.region ?? "us-east-1",
    port: opts.port,
    buckets: opts.buckets,
    onEvent: (n) => {
      opts.onEvent?.(n);
      if (opts.onObjectCreated && n.eventName.startsWith("ObjectCreated:")) {
        opts.onObjectCreated({ bucket: n.bucket, key: n.key, size: n.size ?? 0, eTag: n.eTag, kind: n.eventName.slice("ObjectCreated:".length), sourceIp: n.sourceIp, sequencer: n.sequencer });
      }
    },
  });
  return { endpoint: server.endpoint, port: server.port, handler: server.handler, close: () => server.close() };
}

/** An S3 client for the local server, with the AWS SDK's default settings (checksums included). */
export function localS3Client(endpoint: string, region = "us-east-1"): S3Client {
  return new S3Client({ endpoint, region, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
}

/** The environment that points an SDK inside the function at the local server (nothing else changed). */
export function localS3Environment(endpoint: string, region: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    IMGFN_S3_FORCE_PATH_STYLE: "1",
    AWS_REGION: region,
  };
}
