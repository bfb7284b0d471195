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
  /** The id of the request that made the change (the server's x-amz-request-id and x-amz-id-2). */
  requestId?: string;
  /** The access key that signed it. */
  principal?: string;
}

let last = 0n;
/** S3's sequencer: an upper-case hex string; later events for a key compare greater. */
export function nextSequencer(): string {
  const now = BigInt(Date.now()) * 1_000_000n;
  last = now > last ? now : last + 1n;
  return last.toString(16).toUpperCase().padStart(18, "0");
}

// ids for events no request made (imgfn event s3, imgfn invoke --local): a random prefix per
// process and a counter, so no event costs random bytes
const ID_PREFIX = randomBytes(4).toString("hex").toUpperCase();
let made = 0;
const madeUpId = () => `${ID_PREFIX}${(++made).toString(16).toUpperCase().padStart(8, "0")}`;
/** The local account's canonical id, as S3 names a bucket owner. */
const OWNER_ID = `A${randomBytes(6).toString("hex").toUpperCase()}`;

/** One record of an S3 event notification, exactly as S3 shapes it. */
export function s3EventRecord(n: S3Notification, opts: { region: string; configurationId: string }): Record<string, unknown> {
  const created = n.eventName.startsWith("ObjectCreated:");
  return {
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: opts.region,
    eventTime: n.eventTime,
    eventName: n.eventName,
    userIdentity: { principalId: `AWS:${n.principal ?? "IMGFNLOCAL"}` },
    requestParameters: { sourceIPAddress: n.sourceIp },
    responseElements: { "x-amz-request-id": n.requestId ?? madeUpId(), "x-amz-id-2": n.requestId ?? madeUpId() },
    s3: {
      s3SchemaVersion: "1.0",
      configurationId: opts.configurationId,
      bucket: { name: n.bucket, ownerIdentity: { principalId: OWNER_ID }, arn: `arn:aws:s3:::${n.bucket}` },
      object: {
        key: encodeS3Key(n.key),
        ...(created ? { size: n.size ?? 0 } : {}),
        ...(created && n.eTag ? { eTag: n.eTag } : {}),
        sequencer: n.sequencer,
      },
    },
  };
}
