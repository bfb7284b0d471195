/**
 * The Lambda function: S3 ObjectCreated event → for each record: fetch, classify, write the
 * result JSON. Configuration comes from the environment (see handler/settings.ts).
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { GetObjectCommand, type GetObjectCommandOutput, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Classifier, ImageInputError } from "./classify.js";
import { parseLabels, validateManifest } from "./manifest.js";
import { decodeS3Key, MAX_KEY_BYTES, resultLocation, skipReason } from "./keys.js";
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

/** A record the function must not (or can no longer) process; logged, never retried. */
class RecordSkipped extends Error {
  constructor(readonly reason: string, readonly fields: Record<string, unknown> = {}) {
    super(reason);
    this.name = "RecordSkipped";
  }
}

/** How often a result is redone when the object changed under the classification. */
const MAX_ROUNDS = 3;

async function processRecord(record: S3EventRecord, requestId: string, coldStart: boolean): Promise<RecordOutcome> {
  const bucket = record?.s3?.bucket?.name;
  const rawKey = record?.s3?.object?.key;
  if (typeof bucket !== "string" || typeof rawKey !== "string") {
    log("warn", "record skipped: not an S3 object record", { requestId });
    return { key: String(rawKey), status: "skipped", reason: "not an S3 object record" };
  }
  const key = decodeS3Key(rawKey);
  if (settings.bucket !== undefined && bucket !== settings.bucket) {
    // never fetched: the function reads only the bucket it was deployed for
    const reason = `bucket "${bucket}" is not the configured bucket "${settings.bucket}" (IMGFN_BUCKET)`;
    log("warn", "record skipped: another bucket", { requestId, bucket, key, reason });
    return { key, status: "skipped", reason };
  }
  const reason = skipReason(key, settings);
  if (reason) {
    log("info", "record skipped", { requestId, bucket, key, reason });
    return { key, status: "skipped", reason };
  }
  const location = resultLocation(key, settings);
  if (location.tooLong && Buffer.byteLength(location.key) > MAX_KEY_BYTES) {
    const why = `even the short result key ${location.key} is over S3's ${MAX_KEY_BYTES}-byte limit: shorten the output prefix`;
    log("error", "record skipped: no result key fits", { requestId, bucket, key, reason: why });
    return { key, status: "skipped", reason: why };
  }
  if (location.tooLong) {
    // the mapping, so a person reading the logs can find the result of this key
    log("warn", "result key too long; writing the error result under the short key", { requestId, bucket, key, outputKey: location.key });
  }
  let expectedEtag = unquote(record.s3.object.eTag);
  for (let round = 1; ; round++) {
    let written: { outcome: RecordOutcome; etag?: string };
    try {
      written = await classifyAndWrite(record, bucket, key, location, expectedEtag, requestId, coldStart && round === 1);
    } catch (err) {
      if (!(err instanceof RecordSkipped)) throw err;
      log("warn", `record skipped: ${err.message}`, { requestId, bucket, key, ...err.fields });
      return { key, status: "skipped", reason: err.message };
    }
    if (location.tooLong) return written.outcome;
    // Two uploads to one key race: the result just written must describe the object there now.
    // If it changed meanwhile, the newer event may already have written its result before ours
    // replaced it, so classify the current object again (bounded: under constant churn the
    // newer events will finish the job).
    const current = await currentEtag(bucket, key);
    if (current === undefined || written.etag === undefined || current === written.etag) return written.outcome;
    if (round >= MAX_ROUNDS) {
      log("warn", "object keeps changing; leaving its result to the newer uploads' events", { requestId, bucket, key, classifiedEtag: written.etag, currentEtag: current });
      return written.outcome;
    }
    log("info", "object replaced while it was classified; classifying the object now in the bucket", { requestId, bucket, key, classifiedEtag: written.etag, currentEtag: current });
    expectedEtag = current;
  }
}

async function classifyAndWrite(
  record: S3EventRecord,
  bucket: string,
  key: string,
  location: { key: string; tooLong: boolean },
  expectedEtag: string | undefined,
  requestId: string,
  coldStart: boolean,
): Promise<{ outcome: RecordOutcome; etag?: string }> {
  const outputKey = location.key;
  const started = performance.now();
  const timings: Record<string, number> = {};
  const input: Record<string, unknown> = { bucket, key, size: record.s3.object.size, etag: expectedEtag };
  const base = { requestId, coldStart, timestamp: "" };
  let body: Record<string, unknown>;
  let outcome: RecordOutcome;
  if (location.tooLong) {
    const message = `the result key for this object would be over S3's ${MAX_KEY_BYTES}-byte limit, so it is written at ${outputKey} (the sha256 of the source key, which input.key holds); the object was not classified: use a shorter key`;
    body = { input, error: { code: "KEY_TOO_LONG", message } };
    outcome = { key, status: "error", outputKey, reason: "KEY_TOO_LONG" };
  } else {
    try {
      if ((record.s3.object.size ?? 0) > settings.maxBytes) throw tooBig(record.s3.object.size!);
      const t0 = performance.now();
      const bytes = await download(bucket, key, input, expectedEtag);
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
      if (!(err instanceof ImageInputError)) throw err;
      body = { input, error: { code: err.code, message: err.message } };
      outcome = { key, status: "error", outputKey, reason: err.code };
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
  return { outcome, etag: input.etag as string | undefined };
}

const unquote = (etag: string | undefined) => (etag ? etag.replace(/"/g, "") : undefined);

const isDenied = (err: unknown) => (err as any)?.name === "AccessDenied" || (err as any)?.$metadata?.httpStatusCode === 403;

/** The object's ETag now, or undefined when it is gone (or cannot be seen). */
async function currentEtag(bucket: string, key: string): Promise<string | undefined> {
  try {
    return unquote((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag);
  } catch (err) {
    const status = (err as any)?.$metadata?.httpStatusCode;
    if (status === 404 || status === 403 || (err as any)?.name === "NotFound") return undefined;
    throw err;
  }
}

/** Whether the key is listed in the bucket (needs s3:ListBucket; undefined when that is denied too). */
async function isListed(bucket: string, key: string): Promise<boolean | undefined> {
  try {
    const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }));
    return res.Contents?.[0]?.Key === key;
  } catch (err) {
    if (isDenied(err)) return undefined;
    throw err;
  }
}

const ms = (v: number) => Math.round(v * 100) / 100;

function tooBig(size: number): ImageInputError {
  return new ImageInputError(
    "OBJECT_TOO_LARGE",
    `object is ${size} bytes, over the ${settings.maxBytes}-byte limit (IMGFN_MAX_BYTES); it was not downloaded`,
  );
}

/**
 * GetObject of the version the event announced (If-Match on its ETag), with the size checked on
 * the response headers before the body is read. A missing object, or one replaced since the
 * event, is skipped (RecordSkipped); AccessDenied is told apart from a deleted key by listing it.
 */
async function download(bucket: string, key: string, input: Record<string, unknown>, expectedEtag: string | undefined): Promise<Uint8Array> {
  let res: GetObjectCommandOutput;
  try {
    res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(expectedEtag ? { IfMatch: `"${expectedEtag}"` } : {}) }));
  } catch (err) {
    const name = (err as any)?.name;
    if (name === "NoSuchKey") throw new RecordSkipped("object no longer exists");
    if (name === "PreconditionFailed" || (err as any)?.$metadata?.httpStatusCode === 412) {
      throw new RecordSkipped("superseded: the object was replaced after this event; the newer upload's event writes the result", { eventEtag: expectedEtag });
    }
    if (isDenied(err)) {
      // Without s3:ListBucket, S3 answers a missing key with 403 AccessDenied instead of NoSuchKey.
      const listed = await isListed(bucket, key);
      if (listed === false) throw new RecordSkipped("object no longer exists", { s3Error: "AccessDenied" });
      // A real permission problem: thrown, so the event is retried and then kept in the failure
      // destination, from which `imgfn retry` replays it once the permission is fixed.
      const e = new Error(
        `S3 denied s3:GetObject on s3://${bucket}/${key}${listed ? " although the object exists" : " and s3:ListBucket too, so a deleted object cannot be told from a missing permission"}: allow the function's role s3:GetObject on the input prefix (check bucket policies and KMS key policies too), then run "imgfn retry"`,
        { cause: err },
      );
      e.name = "AccessDenied";
      throw e;
    }
    throw err;
  }
  const etag = unquote(res.ETag);
  if (expectedEtag && etag && etag !== expectedEtag) {
    // a server that ignores If-Match: the same check on the answer
    (res.Body as any)?.destroy?.();
    throw new RecordSkipped("superseded: the object was replaced after this event; the newer upload's event writes the result", { eventEtag: expectedEtag, objectEtag: etag });
  }
  input.size = res.ContentLength ?? input.size;
  input.etag = etag ?? input.etag;
  if ((res.ContentLength ?? 0) > settings.maxBytes) {
    (res.Body as any)?.destroy?.();
    throw tooBig(res.ContentLength!);
  }
  const bytes = await res.Body!.transformToByteArray();
  if (bytes.byteLength > settings.maxBytes) throw tooBig(bytes.byteLength);
  return bytes;
}
