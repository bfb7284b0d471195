/**
 * Upload images under the input prefix and wait for each result object: the one piece of
 * "use the pipeline" logic, shared by `upload` (local and AWS), `demo` and deploy's verify step.
 */
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { outputKeyFor, skipReason } from "../../handler/keys.js";
import type { Config } from "../config.js";
import { forEachBounded } from "./bounded.js";

export const CONTENT_TYPES: Record<string, string> = {
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".png": "image/png",
  ".webp": "image/webp",
  ".gif": "image/gif",
  ".tif": "image/tiff",
  ".tiff": "image/tiff",
  ".avif": "image/avif",
  ".heic": "image/heic",
};

export function contentTypeFor(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
}

/** What the function wrote (see handler/index.ts); `error` is set for bad input. */
export interface ResultDocument {
  input: { bucket: string; key: string; size?: number; etag?: string };
  predictions?: { label: string; index: number; score: number }[];
  error?: { code: string; message: string };
  model?: { id: string; sha256: string | null };
  timings?: Record<string, number>;
  coldStart?: boolean;
  requestId?: string;
  timestamp?: string;
}

export interface UploadOutcome {
  file: string;
  key: string;
  resultKey: string;
  /** ms from the start of the upload to the result being readable. */
  latency?: number;
  result?: ResultDocument;
  /** Set when the result never arrived or could not be read. */
  failure?: string;
}

export interface WaitOptions {
  /** Give up after this many ms (default 60 s). */
  timeout?: number;
  signal?: AbortSignal;
  /** First poll delay; grows by half each poll up to 500 ms. */
  initialDelay?: number;
  /**
   * The uploaded object's ETag: a result that names another ETag was written for an earlier (or
   * later) upload of the same key and is not this upload's result.
   */
  etag?: string;
}

/** Uploads one file with its content type; resolves with the object's ETag (without quotes). */
export async function uploadFile(s3: S3Client, bucket: string, key: string, file: string, body?: Uint8Array): Promise<string | undefined> {
  const bytes = body ?? (await readFile(file));
  const res = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: contentTypeFor(file), ContentLength: bytes.byteLength }));
  return unquoteEtag(res.ETag);
}

const unquoteEtag = (etag: string | undefined) => (etag ? etag.replace(/"/g, "") : undefined);

/**
 * Polls for the result object with backoff (50 ms growing by half to 500 ms). A result left over
 * from an earlier upload of the same key is ignored: one older than `notBefore`, or (S3's
 * Last-Modified has only 1 s resolution) one written for an object with another ETag.
 */
export async function waitForResult(s3: S3Client, bucket: string, resultKey: string, notBefore: number, opts: WaitOptions = {}): Promise<ResultDocument> {
  const deadline = Date.now() + (opts.timeout ?? 60_000);
  let delay = opts.initialDelay ?? 50;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: resultKey }), { abortSignal: opts.signal });
      const text = await res.Body!.transformToString();
      // S3's Last-Modified has 1 s resolution: compare at that granularity
      const fresh = !res.LastModified || res.LastModified.getTime() >= Math.floor(notBefore / 1000) * 1000;
      if (fresh) {
        let doc: ResultDocument;
        try {
          doc = JSON.parse(text) as ResultDocument;
        } catch {
          throw new Error(`result ${resultKey} is not valid JSON`);
        }
        const resultEtag = unquoteEtag(doc?.input?.etag);
        if (!opts.etag || !resultEtag || resultEtag === opts.etag) return doc;
      }
    } catch (err) {
      const name = (err as Error).name;
      if (name !== "NoSuchKey" && name !== "NotFound" && (err as any)?.$metadata?.httpStatusCode !== 404) throw err;
    }
    if (Date.now() + delay > deadline) throw new ResultTimeout(resultKey, opts.timeout ?? 60_000);
    await new Promise((r) => setTimeout(r, delay));
    // gentle growth: a result is usually ready within a second, and a late poll adds its whole
    // delay to the end-to-end latency the user is shown
    delay = Math.min(Math.round(delay * 1.5), 500);
  }
}

export class ResultTimeout extends Error {
  constructor(
    readonly resultKey: string,
    readonly timeout: number,
  ) {
    super(`no result at ${resultKey} after ${(timeout / 1000).toFixed(0)} s`);
    this.name = "ResultTimeout";
  }
}

/** Upload one file to `key` and wait for its result; never throws for a missing result. */
export async function uploadAndWait(
  s3: S3Client,
  config: Pick<Config, "inputPrefix" | "outputPrefix" | "suffixes">,
  bucket: string,
  file: string,
  key: string,
  opts: WaitOptions & { wait?: boolean } = {},
): Promise<UploadOutcome> {
  const resultKey = outputKeyFor(key, config);
  const started = Date.now();
  const t0 = performance.now();
  const etag = await uploadFile(s3, bucket, key, file);
  if (opts.wait === false) return { file, key, resultKey };
  // A key the trigger rules do not match (photo.gif, notes.txt) never gets a result, as on AWS:
  // say why at once instead of waiting out the timeout.
  const untriggered = skipReason(key, config);
  if (untriggered) return { file, key, resultKey, failure: `not processed: ${untriggered}` };
  try {
    const result = await waitForResult(s3, bucket, resultKey, started, { ...opts, etag });
    return { file, key, resultKey, result, latency: Math.round(performance.now() - t0) };
  } catch (err) {
    if (err instanceof ResultTimeout) return { file, key, resultKey, failure: err.message };
    throw err;
  }
}

export interface UploadItem {
  file: string;
  key: string;
}

/**
 * Uploads many files with at most `concurrency` in flight (each waiting for its own result), in
 * input order in the returned array. `onDone` is called as each finishes (progress).
 */
export async function uploadAll(
  s3: S3Client,
  config: Pick<Config, "inputPrefix" | "outputPrefix" | "suffixes">,
  bucket: string,
  items: UploadItem[],
  opts: WaitOptions & { wait?: boolean; concurrency?: number; onDone?: (outcome: UploadOutcome, done: number) => void } = {},
): Promise<UploadOutcome[]> {
  const outcomes: UploadOutcome[] = new Array(items.length);
  let done = 0;
  await forEachBounded(
    items,
    opts.concurrency ?? 4,
    async ({ file, key }, i) => {
      outcomes[i] = await uploadAndWait(s3, config, bucket, file, key, opts);
      opts.onDone?.(outcomes[i], ++done);
    },
    opts.signal,
  );
  return outcomes;
}
