/**
 * Reading the function's results back: list the result objects under the output prefix (every
 * ListObjectsV2 page), newest first, then read the documents with bounded concurrency. Shared by
 * `imgfn results`, `imgfn report` and the live page of `imgfn dev`.
 */
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { pages } from "../pipeline/backfill.js";
import { forEachBounded } from "../pipeline/bounded.js";
import type { ResultDocument } from "../pipeline/upload.js";

export interface ResultObject {
  /** The result object's key, e.g. results/cat.jpg.json. */
  key: string;
  lastModified: number;
  size: number;
}

/** One result as the commands and pages show it. */
export interface ResultRow {
  resultKey: string;
  /** The image the result is about (input.key), or the result key when the document does not say. */
  key: string;
  bucket?: string;
  status: "classified" | "error" | "unreadable";
  top1?: { label: string; score: number };
  predictions: { label: string; score: number; index?: number }[];
  error?: { code: string; message: string };
  /** The handler's own measure (timings.total), ms. */
  functionMs?: number;
  /** When the function wrote it (the document's timestamp, else the object's Last-Modified), epoch ms. */
  when: number;
  coldStart?: boolean;
  requestId?: string;
  size?: number;
  document?: ResultDocument;
}

export interface ResultQuery {
  /** Key prefix of the result objects (default: the output prefix). */
  prefix: string;
  /** Epoch ms: only results written at or after it. */
  since?: number;
  errors?: boolean;
  /** Case-insensitive text that must appear in the top-1 label. */
  label?: string;
  limit?: number;
  concurrency?: number;
  signal?: AbortSignal;
}

/** Every object under the prefix, following continuation tokens (S3 returns at most 1000 a page). */
export async function listResultObjects(s3: S3Client, bucket: string, prefix: string, signal?: AbortSignal): Promise<ResultObject[]> {
  const objects: ResultObject[] = [];
  for await (const page of pages(s3, bucket, prefix, signal)) {
    for (const o of page) {
      if (!o.Key || !o.Key.endsWith(".json")) continue;
      objects.push({ key: o.Key, lastModified: o.LastModified?.getTime() ?? 0, size: o.Size ?? 0 });
    }
  }
  // newest first; S3's Last-Modified has 1 s resolution, so the key breaks ties (stable output)
  return objects.sort((a, b) => b.lastModified - a.lastModified || a.key.localeCompare(b.key));
}

/**
 * One result document. The signal is checked before the request rather than handed to the SDK:
 * hundreds of reads on one signal would each add an abort listener to it.
 */
export async function readResultDocument(s3: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<ResultDocument> {
  signal?.throwIfAborted();
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await res.Body!.transformToString());
}

/** A result document (or the reason it could not be read) as a row. */
export function toRow(object: ResultObject, doc: ResultDocument | undefined, problem?: string): ResultRow {
  if (!doc || typeof doc !== "object") {
    return { resultKey: object.key, key: object.key, status: "unreadable", predictions: [], error: { code: "UNREADABLE_RESULT", message: problem ?? "not a result document" }, when: object.lastModified };
  }
  const predictions = Array.isArray(doc.predictions) ? doc.predictions.filter((p) => p && typeof p.label === "string" && typeof p.score === "number") : [];
  const when = doc.timestamp ? Date.parse(doc.timestamp) : NaN;
  const error = doc.error ? { code: String(doc.error.code ?? "ERROR"), message: String(doc.error.message ?? "") } : undefined;
  return {
    resultKey: object.key,
    key: typeof doc.input?.key === "string" ? doc.input.key : object.key,
    bucket: doc.input?.bucket,
    status: error ? "error" : predictions.length > 0 ? "classified" : "unreadable",
    top1: predictions[0] ? { label: predictions[0].label, score: predictions[0].score } : undefined,
    predictions,
    error: error ?? (predictions.length === 0 ? { code: "UNREADABLE_RESULT", message: "the document has neither predictions nor an error" } : undefined),
    functionMs: typeof doc.timings?.total === "number" ? doc.timings.total : undefined,
    when: Number.isNaN(when) ? object.lastModified : when,
    coldStart: doc.coldStart,
    requestId: doc.requestId,
    size: doc.input?.size,
    document: doc,
  };
}

export async function readRow(s3: S3Client, bucket: string, object: ResultObject, signal?: AbortSignal): Promise<ResultRow> {
  try {
    return toRow(object, await readResultDocument(s3, bucket, object.key, signal));
  } catch (err) {
    if (signal?.aborted) throw err;
    if (err instanceof SyntaxError) return toRow(object, undefined, `not JSON: ${err.message}`);
    if ((err as Error)?.name === "NoSuchKey") return toRow(object, undefined, "deleted while being listed");
    throw err;
  }
}

export function matchesQuery(row: ResultRow, q: Pick<ResultQuery, "errors" | "label" | "since">): boolean {
  if (q.since !== undefined && row.when < q.since) return false;
  if (q.errors && row.status === "classified") return false;
  if (q.label && !row.top1?.label.toLowerCase().includes(q.label.toLowerCase())) return false;
  return true;
}

/**
 * The newest results that match, at most `limit`. Objects are read newest first in batches, so a
 * limit stops the reading early; objects older than `since` (by Last-Modified) are not read at all.
 */
export async function loadResults(s3: S3Client, bucket: string, q: ResultQuery): Promise<{ rows: ResultRow[]; listed: number }> {
  const objects = await listResultObjects(s3, bucket, q.prefix, q.signal);
  // Last-Modified is at or after the document's timestamp (S3 stamps it when the write ends)
  const candidates = q.since === undefined ? objects : objects.filter((o) => o.lastModified >= q.since! - 1000);
  const limit = q.limit ?? Infinity;
  const rows: ResultRow[] = [];
  const batch = Math.max(1, q.concurrency ?? 16);
  for (let i = 0; i < candidates.length && rows.length < limit; i += batch) {
    const read = await Promise.all(candidates.slice(i, i + batch).map((o) => readRow(s3, bucket, o, q.signal)));
    for (const row of read) if (rows.length < limit && matchesQuery(row, q)) rows.push(row);
  }
  rows.sort((a, b) => b.when - a.when || a.key.localeCompare(b.key));
  return { rows, listed: objects.length };
}

/** fn over items with at most `limit` in flight; the results keep the items' order. */
export async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>, signal?: AbortSignal): Promise<R[]> {
  const out = new Array<R>(items.length);
  await forEachBounded(items, limit, async (item, i) => void (out[i] = await fn(item, i)), signal);
  return out;
}
