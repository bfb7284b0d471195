/**
 * The server's own event notifications, in S3's shape: ObjectCreated:Put / Post / Copy /
 * CompleteMultipartUpload and ObjectRemoved:Delete, with the key URL-encoded as S3 encodes it
 * (handler/keys.ts encodeS3Key), the eTag, the size and a sequencer that orders events per key.
 */
import { randomBytes } from "node:crypto";
import { encodeS3Key } from "../../../handler/keys.js";

export type S3EventName = "ObjectCreated:Put" | "ObjectCreated:Post" | "ObjectCreated:Copy" | "ObjectCreated:CompleteMultipartUpload" | "ObjectRemoved:Delete";

/** What happened to one object, as the server saw it. */
export interface S3Notification {
  eventName: S3EventName;
  bucket: string;
  /** The key itself (not encoded). */
  key: string;
  /** ObjectCreated only */
  size?: number;
  /** ObjectCreated only, without quotes */
  eTag?: string;
  sequencer: string;
  sourceIp: string;
  eventTime: string;
}

let last = 0n;
/** S3's sequencer: an upper-case hex string; later events for a key compare greater. */
export function nextSequencer(): string {
  const now = BigInt(Date.now()) * 1_000_000n;
  last = now > last ? now : last + 1n;
  return last.toString(16).toUpperCase().padStart(18, "0");
}

const hex = (bytes: number) => randomBytes(bytes).toString("hex").toUpperCase();

/** One record of an S3 event notification, exactly as S3 shapes it. */
export function s3EventRecord(n: S3Notification, opts: { region: string; configurationId: string }): Record<string, unknown> {
  const created = n.eventName.startsWith("ObjectCreated:");
  return {
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: opts.region,
    eventTime: n.eventTime,
    eventName: n.eventName,
    userIdentity: { principalId: `AWS:${hex(10)}` },
    requestParameters: { sourceIPAddress: n.sourceIp },
    responseElements: { "x-amz-request-id": hex(8), "x-amz-id-2": randomBytes(48).toString("base64") },
    s3: {
      s3SchemaVersion: "1.0",
      configurationId: opts.configurationId,
      bucket: { name: n.bucket, ownerIdentity: { principalId: hex(7) }, arn: `arn:aws:s3:::${n.bucket}` },
      object: {
        key: encodeS3Key(n.key),
        ...(created ? { size: n.size ?? 0 } : {}),
        ...(created && n.eTag ? { eTag: n.eTag } : {}),
        sequencer: n.sequencer,
      },
    },
  };
}
