/**
 * S3 event notifications as S3 sends them: the trigger rules deploy configures (one
 * notification per suffix, each with the input prefix), and the event JSON (eventVersion 2.1,
 * keys URL-encoded with spaces as "+").
 */
import { randomBytes } from "node:crypto";
import { encodeS3Key } from "../../handler/keys.js";
import { resourceNames, triggerFilters } from "../config.js";

/** One S3 notification filter: both must match the raw key, case-sensitively. */
export interface TriggerRule {
  id: string;
  prefix: string;
  suffix: string;
}

/**
 * The notification rules `imgfn deploy` configures (src/aws/s3.ts desiredRules): the same
 * filters and Ids, from config.ts triggerFilters.
 */
export function triggerRules(config: { app: string; inputPrefix: string; suffixes: string[] }): TriggerRule[] {
  return triggerFilters(resourceNames(config).notificationIdPrefix, config.inputPrefix, config.suffixes);
}

/**
 * The rule that fires for a key, if any. S3 delivers one event per object per matching
 * configuration; the rules deploy writes never overlap (distinct suffixes), so at most one fires.
 */
export function matchTrigger(key: string, rules: TriggerRule[]): TriggerRule | undefined {
  return rules.find((r) => key.startsWith(r.prefix) && key.endsWith(r.suffix));
}

export interface ObjectCreated {
  bucket: string;
  /** The decoded key. */
  key: string;
  size: number;
  eTag?: string;
  /** Put, Post, Copy or CompleteMultipartUpload. */
  kind: string;
  sourceIp?: string;
}

let sequence = 0n;
/** S3's sequencer: a hex string that orders events for the same key. */
function nextSequencer(): string {
  sequence = sequence > 0n ? sequence + 1n : BigInt(Date.now()) * 1000n;
  return sequence.toString(16).toUpperCase().padStart(18, "0");
}

const hex = (bytes: number) => randomBytes(bytes).toString("hex").toUpperCase();

/** An S3 ObjectCreated event with one record, shaped exactly like S3's. */
export function s3Event(obj: ObjectCreated, opts: { region: string; configurationId?: string }): { Records: Record<string, unknown>[] } {
  return {
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        awsRegion: opts.region,
        eventTime: new Date().toISOString(),
        eventName: `ObjectCreated:${obj.kind}`,
        userIdentity: { principalId: `AWS:${hex(10)}` },
        requestParameters: { sourceIPAddress: obj.sourceIp ?? "127.0.0.1" },
        responseElements: { "x-amz-request-id": hex(8), "x-amz-id-2": randomBytes(48).toString("base64") },
        s3: {
          s3SchemaVersion: "1.0",
          configurationId: opts.configurationId ?? "imgfn-local",
          bucket: { name: obj.bucket, ownerIdentity: { principalId: hex(7) }, arn: `arn:aws:s3:::${obj.bucket}` },
          object: {
            key: encodeS3Key(obj.key),
            size: obj.size,
            ...(obj.eTag ? { eTag: obj.eTag } : {}),
            sequencer: nextSequencer(),
          },
        },
      },
    ],
  };
}
