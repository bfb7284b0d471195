/**
 * Failed events, wherever they are kept: the local failed store (src/local/failed.ts) or the
 * deployed function's SQS failure queue (src/aws/failed-queue.ts). `imgfn failed` lists them and
 * `imgfn retry` replays them through the path S3 uses, in the same shape from either.
 */
import { decodeS3Key } from "../../handler/keys.js";

export interface FailedEvent {
  /** Store entry id (local) or SQS message id. */
  id: string;
  /** Decoded keys of the event's S3 records (S3 sends one record per event). */
  keys: string[];
  bucket?: string;
  /** The event's eTag for its first record: the object version that failed. */
  eTag?: string;
  errorType: string;
  errorMessage: string;
  /** Attempts Lambda made (the first plus its retries). */
  attempts: number;
  /** ISO time of the last failure. */
  lastFailure: string;
  /** The original event, replayed as it was; undefined when the record held none. */
  event?: unknown;
  /** SQS receipt handle of this reading (AWS only). */
  receiptHandle?: string;
}

export interface FailedEventSource {
  /** "local failed store .imgfn/local/failed" or "SQS queue imgfn-app-failed". */
  description: string;
  /**
   * Every failed event, oldest failure first. `holdSeconds` (SQS) keeps them from other readers
   * that long, so two `retry` runs never replay one event twice; release() gives them back.
   */
  list(opts?: { holdSeconds?: number }): Promise<FailedEvent[]>;
  /** Deletes the entry: only once its re-invocation was accepted. */
  remove(entry: FailedEvent): Promise<void>;
  /** Makes held entries visible again at once (entries not being retried). */
  release(entries: FailedEvent[]): Promise<void>;
}

/** The S3 records' keys, bucket and first eTag of an event, for listing and for waiting on results. */
export function describeEvent(event: unknown): { keys: string[]; bucket?: string; eTag?: string } {
  const records: any[] = Array.isArray((event as any)?.Records) ? (event as any).Records : [];
  const keys = records.map((r) => r?.s3?.object?.key).filter((k): k is string => typeof k === "string").map(decodeS3Key);
  const first = records.find((r) => typeof r?.s3?.object?.key === "string");
  const eTag = typeof first?.s3?.object?.eTag === "string" ? first.s3.object.eTag.replace(/"/g, "") : undefined;
  return { keys, bucket: first?.s3?.bucket?.name, eTag };
}

export function failedEventJson(e: FailedEvent) {
  return { id: e.id, key: e.keys[0], keys: e.keys, bucket: e.bucket, errorType: e.errorType, errorMessage: e.errorMessage, attempts: e.attempts, lastFailure: e.lastFailure };
}
