/**
 * A golden check through the pipeline itself: the golden images are uploaded under the input
 * prefix, the function that serves them classifies them, and the result objects are compared with
 * the golden file. Used by deploy's verify (AWS) and by `imgfn demo --golden` (the local stack).
 */
import { randomUUID } from "node:crypto";
import { basename } from "node:path";
import { DeleteObjectsCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Config } from "../config.js";
import { uploadAll, type UploadOutcome } from "../pipeline/upload.js";
import { type Answer, compareGolden, type GoldenFile, type GoldenReport, goldenPaths, readGolden, readGoldenImages } from "./golden.js";

/** What each upload's result object says, as golden answers (no result is an answer too). */
export function answersFromOutcomes(outcomes: UploadOutcome[]): { answers: Answer[]; model?: { id: string; sha256: string | null } } {
  const answers = outcomes.map((o): Answer => {
    if (o.result?.predictions) return { predictions: o.result.predictions };
    if (o.result?.error) return { error: o.result.error };
    return { error: { code: "NO_RESULT", message: o.failure ?? "no result" } };
  });
  return { answers, model: outcomes.find((o) => o.result?.model)?.result?.model };
}

export interface GoldenUploadOptions {
  tolerance: number;
  timeout: number;
  signal?: AbortSignal;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Uploads the golden images under a unique folder, compares the results, then deletes both. */
export async function checkGoldenThroughS3(
  s3: S3Client,
  config: Pick<Config, "inputPrefix" | "outputPrefix" | "suffixes">,
  bucket: string,
  goldenPath: string,
  opts: GoldenUploadOptions,
): Promise<{ golden: GoldenFile; report: GoldenReport; keys: string[] }> {
  const golden = await readGolden(goldenPath);
  await readGoldenImages(golden, goldenPath);
  const run = randomUUID().slice(0, 8);
  const items = goldenPaths(golden, goldenPath).map((file, i) => ({ file, key: `${config.inputPrefix}imgfn-golden-${run}/${i}-${basename(file)}` }));
  const outcomes = await uploadAll(s3, config, bucket, items, {
    timeout: opts.timeout,
    signal: opts.signal,
    concurrency: opts.concurrency ?? 4,
    onDone: (_o, done) => opts.onProgress?.(done, items.length),
  });
  const keys = outcomes.flatMap((o) => [o.key, o.resultKey]);
  try {
    const { answers, model } = answersFromOutcomes(outcomes);
    return { golden, report: compareGolden(golden, answers, opts.tolerance, model), keys };
  } finally {
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } })).catch(() => {});
  }
}
