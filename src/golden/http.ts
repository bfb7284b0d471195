/**
 * A golden check over HTTP: each golden image is POSTed to a Function URL (the deployed one, or
 * the local stack's), and the function's answers are compared with the golden file. The HTTP path
 * runs the same classifier as the S3 path, but through another event shape and body handling, so
 * deploy and `demo --golden` check both.
 */
import { readFile } from "node:fs/promises";
import { contentTypeFor, postImage, type RequestSigner } from "../pipeline/http-classify.js";
import { forEachBounded } from "../pipeline/bounded.js";
import { type Answer, compareGolden, type GoldenReport, goldenPaths, readGolden, readGoldenImages } from "./golden.js";

export interface GoldenHttpOptions {
  tolerance: number;
  sign?: RequestSigner;
  signal?: AbortSignal;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function checkGoldenOverHttp(url: string, goldenPath: string, opts: GoldenHttpOptions): Promise<GoldenReport> {
  const golden = await readGolden(goldenPath);
  await readGoldenImages(golden, goldenPath); // the images are still the recorded ones
  const files = goldenPaths(golden, goldenPath);
  const answers: Answer[] = new Array(files.length);
  let model: { id: string; sha256: string | null } | undefined;
  let done = 0;
  await forEachBounded(
    files,
    opts.concurrency ?? 4,
    async (file, i) => {
      const a = await postImage(url, await readFile(file), { top: golden.topK, contentType: contentTypeFor(file), sign: opts.sign, signal: opts.signal });
      const doc = a.document;
      if (a.status === 200 && doc?.predictions) {
        answers[i] = { predictions: doc.predictions };
        model ??= doc.model;
      } else {
        answers[i] = { error: doc?.error ?? { code: `HTTP_${a.status}`, message: a.text.slice(0, 200) || `the URL answered ${a.status}` } };
      }
      opts.onProgress?.(++done, files.length);
    },
    opts.signal,
  );
  return compareGolden(golden, answers, opts.tolerance, model);
}
