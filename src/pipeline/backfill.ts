/**
 * Catch-up: the objects under the input prefix with no current result (no result, or a result
 * written for another ETag of the key), and S3-shaped events for them at a bounded concurrency.
 * Shared by `imgfn backfill` (local or AWS, on demand) and by `imgfn dev`'s start (events a
 * stopped dev left queued or running).
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client, type _Object } from "@aws-sdk/client-s3";
import { outputKeyFor, skipReason } from "../../handler/keys.js";
import type { Config } from "../config.js";
import { UserError } from "../errors.js";
import { s3Event } from "../local/events.js";
import { forEachBounded } from "./bounded.js";

type Rules = Pick<Config, "inputPrefix" | "outputPrefix" | "suffixes">;

export interface PendingObject {
  key: string;
  size: number;
  eTag?: string;
  /** "no result", or "stale result" (it names another ETag). */
  why: "no result" | "stale result";
}

export interface Scan {
  /** Objects listed under the input prefix that the trigger rules match. */
  listed: number;
  /** Of those, how many already have a result for their current ETag. */
  current: number;
  pending: PendingObject[];
}

const unquote = (etag: string | undefined) => (etag ? etag.replace(/"/g, "") : undefined);
const missing = (err: unknown) => (err as Error)?.name === "NoSuchKey" || (err as any)?.$metadata?.httpStatusCode === 404;

/** The result's ETag (the object version it describes), "" for a result naming none, undefined for none. */
async function resultEtag(s3: S3Client, bucket: string, resultKey: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: resultKey }), { abortSignal: signal });
    const text = await res.Body!.transformToString();
    try {
      return unquote(JSON.parse(text)?.input?.etag) ?? "";
    } catch {
      return ""; // unreadable: not a result for this object
    }
  } catch (err) {
    if (missing(err)) return undefined;
    throw err;
  }
}

/** ListObjectsV2 page by page (1000 keys a page unless `pageSize`), following the continuation token. */
export async function* pages(s3: S3Client, bucket: string, prefix: string, signal?: AbortSignal, pageSize?: number): AsyncGenerator<_Object[]> {
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: pageSize }), { abortSignal: signal });
    yield page.Contents ?? [];
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** Every key under a prefix. */
async function listKeys(s3: S3Client, bucket: string, prefix: string, signal?: AbortSignal): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const page of pages(s3, bucket, prefix, signal)) for (const o of page) if (o.Key) keys.add(o.Key);
  return keys;
}

/**
 * Lists the input prefix page by page (1000 keys a page) and checks each matching object's
 * result, `concurrency` at a time. `exclude` names objects to leave alone (e.g. kept as failed).
 */
export async function findPending(
  s3: S3Client,
  bucket: string,
  rules: Rules,
  opts: { concurrency?: number; signal?: AbortSignal; exclude?: (key: string, eTag: string | undefined) => boolean; onPage?: (scan: Scan) => void; pageSize?: number } = {},
): Promise<Scan> {
  const scan: Scan = { listed: 0, current: 0, pending: [] };
  // which results exist at all, from the listing: only those are read to compare their ETag
  const results = await listKeys(s3, bucket, rules.outputPrefix, opts.signal);
  for await (const page of pages(s3, bucket, rules.inputPrefix, opts.signal, opts.pageSize)) {
    const objects = page.filter((o) => o.Key !== undefined && skipReason(o.Key, rules) === undefined && !opts.exclude?.(o.Key, unquote(o.ETag)));
    scan.listed += objects.length;
    const found: (PendingObject | undefined)[] = new Array(objects.length);
    await forEachBounded(
      objects,
      opts.concurrency ?? 8,
      async (o, i) => {
        const eTag = unquote(o.ETag);
        const resultKey = outputKeyFor(o.Key!, rules);
        const stored = results.has(resultKey) ? await resultEtag(s3, bucket, resultKey, opts.signal) : undefined;
        if (stored !== undefined && (stored === eTag || !eTag)) return;
        found[i] = { key: o.Key!, size: o.Size ?? 0, eTag, why: stored === undefined ? "no result" : "stale result" };
      },
      opts.signal,
    );
    for (const f of found) if (f) scan.pending.push(f);
    scan.current = scan.listed - scan.pending.length;
    opts.onPage?.(scan);
  }
  return scan;
}

/** The ObjectCreated:Put event S3 would have sent for the object (key URL-encoded as S3 does). */
export function eventFor(bucket: string, o: PendingObject, region: string): unknown {
  return s3Event({ bucket, key: o.key, size: o.size, eTag: o.eTag, kind: "Put" }, { region, configurationId: "imgfn-backfill" });
}

export interface InvokeSummary {
  invoked: number;
  refused: { key: string; error: string }[];
}

/** One asynchronous invocation per object, `concurrency` in flight; a refused one is reported, not fatal. */
export async function invokeEach(
  bucket: string,
  pending: PendingObject[],
  invoke: (event: unknown) => Promise<void>,
  opts: { region: string; concurrency?: number; signal?: AbortSignal; onDone?: (done: number) => void },
): Promise<InvokeSummary> {
  const summary: InvokeSummary = { invoked: 0, refused: [] };
  let done = 0;
  await forEachBounded(
    pending,
    opts.concurrency ?? 8,
    async (o) => {
      try {
        await invoke(eventFor(bucket, o, opts.region));
        summary.invoked++;
      } catch (err) {
        // no function, no stack: every other invocation would be refused the same way
        if (err instanceof UserError || (err as Error)?.name === "AbortError" || opts.signal?.aborted) throw err;
        summary.refused.push({ key: o.key, error: (err as Error).message });
      }
      opts.onDone?.(++done);
    },
    opts.signal,
  );
  return summary;
}
