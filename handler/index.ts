/**
 * The Lambda function: S3 ObjectCreated event → for each record: fetch, classify, write the
 * result JSON. Configuration comes from the environment (see handler/settings.ts).
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Classifier, ImageInputError } from "./classify.js";
import { parseLabels, validateManifest } from "./manifest.js";
import { decodeS3Key, outputKeyFor, skipReason } from "./keys.js";
import { readSettings, type Settings } from "./settings.js";

export interface S3EventRecord {
  eventName?: string;
  eventSource?: string;
  awsRegion?: string;
  s3: {
    bucket: { name: string };
    object: { key: string; size?: number; eTag?: string };
  };
}
export interface S3Event {
  Records?: S3EventRecord[];
  /** S3 sends {"Event":"s3:TestEvent"} once when a notification configuration is saved. */
  Event?: string;
}
export interface LambdaContext {
  awsRequestId: string;
  functionName?: string;
  getRemainingTimeInMillis?: () => number;
}

export interface RecordOutcome {
  key: string;
  status: "classified" | "error" | "skipped";
  outputKey?: string;
  reason?: string;
}

const settings: Settings = readSettings(process.env);
const s3 = new S3Client({ forcePathStyle: settings.forcePathStyle || undefined });
let classifierPromise: Promise<Classifier> | undefined;
let invocations = 0;

function log(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown>): void {
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

async function loadClassifier(): Promise<Classifier> {
  const raw = JSON.parse(await readFile(settings.manifestPath, "utf8"));
  const manifest = validateManifest(raw, settings.manifestPath);
  const dir = dirname(settings.manifestPath);
  const labels = parseLabels(await readFile(join(dir, manifest.labels), "utf8"), manifest.labels);
  return Classifier.load({ manifest, model: join(dir, manifest.file), labels, threads: settings.threads });
}

/** Starts loading the model during init (module scope), so the first event does not pay for it twice. */
export function classifier(): Promise<Classifier> {
  classifierPromise ??= loadClassifier().catch((err) => {
    classifierPromise = undefined; // let the next invocation try again
    throw err;
  });
  return classifierPromise;
}
// Load the model during Lambda's init phase (which runs with a full CPU), not in the first event.
// A failure here is reported by the first invocation instead, with the cause.
if (settings.preload) await classifier().catch(() => {});

export async function handler(event: S3Event, context: LambdaContext): Promise<{ results: RecordOutcome[] }> {
  const coldStart = invocations++ === 0;
  const requestId = context?.awsRequestId ?? "local";
  if (event?.Event === "s3:TestEvent") {
    log("info", "s3 test event ignored", { requestId });
    return { results: [] };
  }
  const records = Array.isArray(event?.Records) ? event.Records : [];
  if (records.length === 0) log("warn", "event has no S3 records; nothing to do", { requestId });
  const results: RecordOutcome[] = [];
  const transient: unknown[] = [];
  for (const record of records) {
    try {
      results.push(await processRecord(record, requestId, coldStart && results.length === 0));
    } catch (err) {
      transient.push(err);
      // thrown so that an asynchronous (S3) invocation is retried; a synchronous invoke is not,
      // and no retry helps a bucket that is gone or a permission that is missing
      const name = (err as Error)?.name;
      log("error", PERMANENT.has(name) ? `record failed (${name}); retrying will not help` : "record failed; Lambda retries an asynchronous (S3) event", {
        requestId,
        key: safeKey(record),
        error: { name: (err as Error)?.name, message: (err as Error)?.message },
      });
    }
  }
  if (transient.length === 1) throw transient[0];
  if (transient.length > 1) throw new AggregateError(transient, `${transient.length} records failed transiently`);
  return { results };
}

/** S3 errors that stay the same however often the event is retried. */
const PERMANENT = new Set(["NoSuchBucket", "AccessDenied", "AllAccessDisabled", "InvalidBucketName", "PermanentRedirect"]);

function safeKey(record: S3EventRecord): string | undefined {
  try {
    return decodeS3Key(record.s3.object.key);
  } catch {
    return record?.s3?.object?.key;
  }
}

async function processRecord(record: S3EventRecord, requestId: string, coldStart: boolean): Promise<RecordOutcome> {
  const bucket = record?.s3?.bucket?.name;
  const rawKey = record?.s3?.object?.key;
  if (typeof bucket !== "string" || typeof rawKey !== "string") {
    log("warn", "record skipped: not an S3 object record", { requestId });
    return { key: String(rawKey), status: "skipped", reason: "not an S3 object record" };
  }
  const key = decodeS3Key(rawKey);
  const reason = skipReason(key, settings);
  if (reason) {
    log("info", "record skipped", { requestId, bucket, key, reason });
    return { key, status: "skipped", reason };
  }
  const outputKey = outputKeyFor(key, settings);
  const started = performance.now();
  const timings: Record<string, number> = {};
  const input: Record<string, unknown> = { bucket, key, size: record.s3.object.size, etag: record.s3.object.eTag };
  const base = { requestId, coldStart, timestamp: "" };
  let body: Record<string, unknown>;
  let outcome: RecordOutcome;
  try {
    if ((record.s3.object.size ?? 0) > settings.maxBytes) throw tooBig(record.s3.object.size!);
    const t0 = performance.now();
    const bytes = await download(bucket, key, input);
    timings.download = ms(performance.now() - t0);
    const model = await classifier();
    const result = await model.classify(bytes, { topK: settings.topK, maxPixels: settings.maxPixels });
    timings.preprocess = result.timings.preprocess;
    timings.inference = result.timings.inference;
    body = {
      input,
      image: result.image,
      model: { id: model.manifest.id, sha256: model.manifest.sha256 ?? null },
      predictions: result.predictions,
    };
    outcome = { key, status: "classified", outputKey };
  } catch (err) {
    if (err instanceof ImageInputError) {
      body = { input, error: { code: err.code, message: err.message } };
      outcome = { key, status: "error", outputKey, reason: err.code };
    } else if ((err as any)?.name === "NoSuchKey") {
      log("warn", "record skipped: object no longer exists", { requestId, bucket, key });
      return { key, status: "skipped", reason: "object no longer exists" };
    } else {
      throw err;
    }
  }
  const t3 = performance.now();
  base.timestamp = new Date().toISOString();
  // upload and total are known only after the write; the stored figures cover everything before it
  timings.total = ms(t3 - started);
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: outputKey,
      Body: JSON.stringify({ ...body, timings, ...base }, null, 2),
      ContentType: "application/json",
    }),
  );
  timings.upload = ms(performance.now() - t3);
  timings.total = ms(performance.now() - started);
  if (outcome.status === "classified") {
    const top = (body.predictions as { label: string; score: number }[])[0];
    log("info", "classified", { requestId, bucket, key, outputKey, top1: top?.label, score: top?.score, timings, coldStart });
  } else {
    const error = body.error as { code: string; message: string };
    log("warn", "input rejected", { requestId, bucket, key, outputKey, error, timings, coldStart });
  }
  return outcome;
}

const ms = (v: number) => Math.round(v * 100) / 100;

function tooBig(size: number): ImageInputError {
  return new ImageInputError(
    "OBJECT_TOO_LARGE",
    `object is ${size} bytes, over the ${settings.maxBytes}-byte limit (IMGFN_MAX_BYTES); it was not downloaded`,
  );
}

/** GetObject with the size checked on the response headers before the body is read. */
async function download(bucket: string, key: string, input: Record<string, unknown>): Promise<Uint8Array> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  input.size = res.ContentLength ?? input.size;
  input.etag = res.ETag?.replace(/"/g, "") ?? input.etag;
  if ((res.ContentLength ?? 0) > settings.maxBytes) {
    (res.Body as any)?.destroy?.();
    throw tooBig(res.ContentLength!);
  }
  const bytes = await res.Body!.transformToByteArray();
  if (bytes.byteLength > settings.maxBytes) throw tooBig(bytes.byteLength);
  return bytes;
}
