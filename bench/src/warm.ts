/**
 * Items 1 and 7a: the warm function, stage by stage, against S3 on loopback (the local S3 server), with the
 * naive reference pipeline and the model alone measured in the same loop (interleaved, so that
 * machine noise falls on all three alike). Also the top-1 agreement between the two pipelines.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { startS3 } from "../../test/helpers/s3.js";
import { ROOT, TASK, log, r2, readImages, stats, writePart } from "./common.js";
import { loadFunction } from "./fn.js";
import { argmax, naivePreprocess } from "./naive.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 40);
const WARMUP = 5;
const BLOCK = 10;

const s3 = await startS3("bench");
const fn = await loadFunction(TASK, s3.env);
const clf = await fn.classifier();
const session: ort.InferenceSession = (clf as any).session;
const manifest = clf.manifest;
const inputName = manifest.input.name;
const outputName = manifest.output.name;

const images = await readImages();
const results: any[] = [];
for (const img of images) {
  const bytes = readFileSync(img.file);
  const key = `uploads/${basename(img.file)}`;
  await s3.put(key, bytes);
  const fixed = await naivePreprocess(bytes, manifest);
  const stages: Record<string, number[]> = { download: [], preprocess: [], inference: [], upload: [], total: [], excludingS3: [] };
  const naive: number[] = [];
  const modelOnly: number[] = [];
  const decodeOnly: number[] = [];
  // Blocks of BLOCK runs of each kind in turn: each pipeline is measured in its own steady state
  // (caches, JIT), and the blocks interleave so that machine noise falls on all three alike.
  for (let i = 0; i < WARMUP; i++) {
    await fn.invoke(s3.bucket, key, bytes.length);
    await naivePreprocess(bytes, manifest);
    await session.run({ [inputName]: fixed });
  }
  for (let done = 0; done < RUNS; done += BLOCK) {
    const n = Math.min(BLOCK, RUNS - done);
    for (let i = 0; i < n; i++) {
      const t = await fn.invoke(s3.bucket, key, bytes.length);
      for (const k of ["download", "preprocess", "inference", "upload", "total"] as const) stages[k].push(t[k]);
      stages.excludingS3.push(t.total - t.download - t.upload);
    }
    for (let i = 0; i < n; i++) {
      const n0 = performance.now();
      await naivePreprocess(bytes, manifest);
      naive.push(performance.now() - n0);
    }
    for (let i = 0; i < n; i++) {
      const n0 = performance.now();
      await session.run({ [inputName]: fixed });
      modelOnly.push(performance.now() - n0);
    }
    // the floor under any sharp-based preprocessing: decoding the whole image, nothing else
    for (let i = 0; i < n; i++) {
      const n0 = performance.now();
      await sharp(bytes).raw().toBuffer();
      decodeOnly.push(performance.now() - n0);
    }
  }
  // top-1 of each pipeline on this image
  const result = await s3.getJson(`results/${basename(img.file)}.json`);
  const naiveOut = await session.run({ [inputName]: await naivePreprocess(bytes, manifest) });
  const naiveTop1 = argmax(naiveOut[outputName].data as Float32Array);
  const entry = {
    image: img.id,
    description: img.description,
    size: `${img.width}×${img.height}`,
    bytes: img.bytes,
    stages: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, stats(v)])),
    naivePreprocess: stats(naive),
    modelOnly: stats(modelOnly),
    fullDecodeOnly: stats(decodeOnly),
    preprocessSpeedup: r2(stats(naive).median / stats(stages.preprocess).median),
    excludingS3OverModelOnly: r2(stats(stages.excludingS3).median / stats(modelOnly).median),
    top1: { function: result.predictions[0].index, functionLabel: result.predictions[0].label, naive: naiveTop1, naiveLabel: clf.labels[naiveTop1], agree: result.predictions[0].index === naiveTop1 },
  };
  log(`warm ${img.id}: preprocess ${entry.stages.preprocess.median} ms (naive ${entry.naivePreprocess.median}), inference ${entry.stages.inference.median}, total ${entry.stages.total.median}, model-only ${entry.modelOnly.median}`);
  results.push(entry);
}

// Top-1 agreement on the committed samples too (as shipped, not re-encoded).
const extra = [];
for (const name of ["cat.jpg", "espresso.jpg"]) {
  const bytes = readFileSync(`${ROOT}/samples/${name}`);
  const ours = await clf.classify(bytes, { topK: 1 });
  const naiveOut = await session.run({ [inputName]: await naivePreprocess(bytes, manifest) });
  const naiveTop1 = argmax(naiveOut[outputName].data as Float32Array);
  extra.push({ image: `samples/${name}`, top1: { function: ours.predictions[0].index, functionLabel: ours.predictions[0].label, naive: naiveTop1, naiveLabel: clf.labels[naiveTop1], agree: ours.predictions[0].index === naiveTop1 } });
}

await s3.close();
await writePart("warm", { runs: RUNS, warmup: WARMUP, images: results, agreementSamples: extra, threads: Number(process.env.IMGFN_THREADS ?? 1) });
process.exit(0);
