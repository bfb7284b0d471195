/**
 * S3 event notifications as S3 sends them: the trigger rules deploy configures (one
 * notification per suffix, each with the input prefix). The event JSON itself (eventVersion 2.1,
 * keys URL-encoded with spaces as "+") is the local S3 server's own (s3/events.ts).
 */
import { resourceNames, triggerFilters } from "../config.js";
import { nextSequencer, s3EventRecord, type S3EventName, type S3Notification } from "./s3/events.js";

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
  sequencer?: string;
}

/** An S3 ObjectCreated event with one record, shaped exactly like S3's (imgfn invoke --local). */
export function s3Event(obj: ObjectCreated, opts: { region: string; configurationId?: string }): { Records: Record<string, unknown>[] } {
  const notification: S3Notification = {
    eventName: `ObjectCreated:${obj.kind}` as S3EventName,
    bucket: obj.bucket,
    key: obj.key,
    size: obj.size,
    eTag: obj.eTag,
    sequencer: obj.sequencer ?? nextSequencer(),
    sourceIp: obj.sourceIp ?? "127.0.0.1",
    eventTime: new Date().toISOString(),
  };
  return { Records: [s3EventRecord(notification, { region: opts.region, configurationId: opts.configurationId ?? "imgfn-local" })] };
}
