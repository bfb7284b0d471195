/**
 * Item 8: imgfn's function side by side with the Python Lambda function a user would write instead
 * (bench/python/lambda_function.py: boto3 + Pillow + NumPy + onnxruntime, one intra-op thread),
 * both against the same local S3 server, each in its own kind of worker process: cold start to ready, warm
 * per-image time (excluding S3 and end to end), peak RSS, installed dependency size; then, on the
 * parity corpus, top-1 agreement with the reference pipeline for both fidelities, and the worst
 * bad or odd input against a normal photo.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { promisify } from "node:util";
import { createInterface } from "node:readline";
import sharp from "sharp";
import { Classifier } from "../../handler/classify.js";
import { loadModel } from "../../src/model/spec.js";
import * as img from "../../test/helpers/images.js";
import { writeParityCorpus } from "../../test/helpers/parity.js";
import { BENCH_VENV, REFERENCE_CLI, benchPython } from "../../test/helpers/python.js";
import { s3Event, s3Record } from "../../test/helpers/events.js";
import { startS3 } from "../../test/helpers/s3.js";
import { ROOT, TASK, WORK, childEnv, log, r1, r2, readImages, runNode, stats, writePart } from "./common.js";
import { loadFunction } from "./fn.js";

const r4 = (v: number) => Number(v.toFixed(4));
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const BLOCK = 10;
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 8);

const py = await benchPython();
if ("skip" in py) throw new Error(`no Python environment for the Python function: ${py.skip}`);
const python = py.python;
const spec = await loadModel();
const s3 = await startS3("python");
const images = (await readImages()).filter((i) => ["cat-png", "jpeg-0.5mp", "jpeg-12mp"].includes(i.id));
for (const i of images) await s3.put(`uploads/${basename(i.file)}`, readFileSync(i.file));
const pyEnv = childEnv({ ...s3.env, MODEL_PATH: spec.weights.path, LABELS_PATH: spec.labelsPath!, OMP_NUM_THREADS: "1" });
const PY_DIR = join(ROOT, "bench", "python");

/** A Python worker process (bench/python/worker.py): one JSON line per event. */
async function pythonWorker(): Promise<{ child: ChildProcess; spawnToReadyMs: number; invoke: (key: string, size: number) => Promise<any>; close: () => void }> {
  const t0 = performance.now();
  const child = spawn(python, [join(PY_DIR, "worker.py"), PY_DIR], { env: pyEnv, stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error("the Python worker exited");
    return JSON.parse(value);
  };
  await next();
  const spawnToReadyMs = performance.now() - t0;
  return {
    child,
    spawnToReadyMs,
    async invoke(key, size) {
      child.stdin!.write(JSON.stringify(s3Event(s3Record(s3.bucket, key, size))) + "\n");
      return next();
    },
    close: () => child.kill(),
  };
}

/** spawn → first stdout line of a process (its "ready"), measured the same way for both runtimes. */
function spawnToFirstLine(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, cwd, stdio: ["pipe", "pipe", "ignore"] });
    child.stdout.once("data", () => {
      resolve(performance.now() - t0);
      child.kill();
    });
    child.on("error", reject);
    child.on("exit", (code) => code && reject(new Error(`${cmd} exited ${code}`)));
  });
}

// ---- cold start to ready ----------------------------------------------------------------
const cold = { imgfn: [] as number[], python: [] as number[] };
for (let i = 0; i < COLD_RUNS; i++) {
  cold.imgfn.push(await spawnToFirstLine(process.execPath, [join(WORK, "cold-child.mjs"), "ready"], childEnv({ ...s3.env, LAMBDA_TASK_ROOT: TASK }), TASK));
  const w = await pythonWorker();
  cold.python.push(w.spawnToReadyMs);
  w.close();
}
log(`python: cold start to ready, imgfn ${stats(cold.imgfn).median} ms, python ${stats(cold.python).median} ms`);

// ---- warm, interleaved in blocks ----------------------------------------------------------
const fn = await loadFunction(TASK, s3.env);
const worker = await pythonWorker();
const warm: any[] = [];
for (const image of images) {
  const key = `uploads/${basename(image.file)}`;
  const t = { imgfnTotal: [] as number[], imgfnExcl: [] as number[], pythonTotal: [] as number[], pythonExcl: [] as number[] };
  let pyTop1: any;
  for (let i = 0; i < 3; i++) {
    await fn.invoke(s3.bucket, key, image.bytes);
    await worker.invoke(key, image.bytes);
  }
  for (let done = 0; done < RUNS; done += BLOCK) {
    for (let i = 0; i < BLOCK; i++) {
      const r = await fn.invoke(s3.bucket, key, image.bytes);
      t.imgfnTotal.push(r.total);
      t.imgfnExcl.push(r.total - r.download - r.upload);
    }
    for (let i = 0; i < BLOCK; i++) {
      const r = (await worker.invoke(key, image.bytes)).results[0];
      t.pythonTotal.push(r.timings.total);
      t.pythonExcl.push(r.timings.total - r.timings.download - r.timings.upload);
      pyTop1 = r.top1;
    }
  }
  const ours = await s3.getJson(`results/${basename(image.file)}.json`).catch(() => undefined);
  const row = {
    image: image.id,
    size: `${image.width}×${image.height}`,
    imgfn: { total: stats(t.imgfnTotal), excludingS3: stats(t.imgfnExcl) },
    python: { total: stats(t.pythonTotal), excludingS3: stats(t.pythonExcl) },
    speedupExcludingS3: r2(stats(t.pythonExcl).median / stats(t.imgfnExcl).median),
    speedupEndToEnd: r2(stats(t.pythonTotal).median / stats(t.imgfnTotal).median),
    top1: { imgfn: ours?.predictions?.[0], python: pyTop1 },
  };
  log(`python: warm ${image.id}: imgfn ${row.imgfn.excludingS3.median} ms excl. S3, python ${row.python.excludingS3.median} ms (${row.speedupExcludingS3}×)`);
  warm.push(row);
}
worker.close();

// ---- peak RSS, a fresh process per image (as Lambda's Max Memory Used) -----------------------
const memory: any[] = [];
for (const image of images) {
  const key = `uploads/${basename(image.file)}`;
  const w = await pythonWorker();
  let last: any;
  for (let i = 0; i < 20; i++) last = await w.invoke(key, image.bytes);
  w.close();
  const node = await runNode(join(WORK, "memory-child.mjs"), [image.file], childEnv({ ...s3.env, LAMBDA_TASK_ROOT: TASK, BENCH_BUCKET: s3.bucket }), { cwd: TASK });
  memory.push({ image: image.id, imgfnPeakMb: r1(node.peakMb), pythonPeakMb: r1(last.peakMb) });
}
log(`python: peak RSS ${memory.map((m) => `${m.image} imgfn ${m.imgfnPeakMb} / python ${m.pythonPeakMb} MB`).join(", ")}`);
await s3.close();

// ---- installed dependency size ---------------------------------------------------------------
function du(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((n, e) => n + du(join(path, e)), 0);
}
const lib = join(BENCH_VENV, "lib");
const sitePackages = join(lib, readdirSync(lib)[0], "site-packages");
// boto3 and its closure come with Lambda's Python runtime; pip/setuptools are not shipped
const PROVIDED = /^(boto3|botocore|s3transfer|jmespath|dateutil|python_dateutil|six|urllib3|pip|setuptools|_distutils_hack|pkg_resources|distutils-precedence)/i;
const shipped: Record<string, number> = {};
let provided = 0;
for (const entry of readdirSync(sitePackages)) {
  const size = du(join(sitePackages, entry));
  if (PROVIDED.test(entry) || entry === "__pycache__" || entry === "six.py") provided += size;
  else shipped[entry.replace(/-[\d.]+.*\.dist-info$/, " (metadata)")] = (shipped[entry.replace(/-[\d.]+.*\.dist-info$/, " (metadata)")] ?? 0) + size;
}
const pythonDepsBytes = Object.values(shipped).reduce((a, b) => a + b, 0);
log(`python: shipped dependencies ${(pythonDepsBytes / 1e6).toFixed(1)} MB (boto3 & co, provided by the runtime: ${(provided / 1e6).toFixed(1)} MB)`);

// ---- parity corpus: agreement with the reference, both fidelities ------------------------------
const corpusDir = mkdtempSync(join(tmpdir(), "imgfn-bench-parity-"));
const corpus = await writeParityCorpus(corpusDir);
const { stdout } = await promisify(execFile)(python, [REFERENCE_CLI, "--json", "--weights", spec.weights.path, ...corpus], { maxBuffer: 64 * 1024 * 1024 });
const reference = JSON.parse(stdout);
const fidelity: any = {};
for (const mode of ["exact", "fast"] as const) {
  const clf = await Classifier.load({ manifest: { ...spec.manifest, preprocess: { ...spec.manifest.preprocess, fidelity: mode } }, model: spec.weights.path, labels: spec.labels });
  const rows = [];
  for (const [i, file] of corpus.entries()) {
    const r = await clf.classify(readFileSync(file), { topK: 1000 });
    const ref = reference[i].predictions[0];
    const same = r.predictions.find((p) => p.index === ref.index)!;
    rows.push({ file: basename(file), agree: r.predictions[0].index === ref.index, deltaP: r4(Math.abs(same.score - ref.score)) });
  }
  // the cost side: warm preprocessing of the 12 MP JPEG with this fidelity
  const big = readFileSync(images.find((i) => i.id === "jpeg-12mp")!.file);
  const times: number[] = [];
  for (let i = 0; i < 12; i++) times.push((await clf.classify(big)).timings.preprocess);
  await clf.release();
  const deltas = rows.map((r) => r.deltaP);
  fidelity[mode] = {
    files: rows.length,
    top1Agreement: r2(rows.filter((r) => r.agree).length / rows.length),
    meanAbsDeltaTop1: r4(deltas.reduce((a, b) => a + b, 0) / deltas.length),
    maxAbsDeltaTop1: r4(Math.max(...deltas)),
    preprocess12MpJpeg: stats(times.slice(2)),
    worst: [...rows].sort((a, b) => b.deltaP - a.deltaP).slice(0, 3),
  };
  log(`python: fidelity ${mode}: top-1 agreement ${fidelity[mode].top1Agreement}, mean |Δp| ${fidelity[mode].meanAbsDeltaTop1}, max ${fidelity[mode].maxAbsDeltaTop1}, 12 MP preprocess ${fidelity[mode].preprocess12MpJpeg.median} ms`);
}

// ---- bad and odd inputs against a normal photo (12 MP phone JPEG), fresh process each -----------
const inputs: [string, () => Promise<Buffer> | Buffer][] = [
  ["12 MP JPEG (4000×3000), the normal photo", () => readFileSync(images.find((i) => i.id === "jpeg-12mp")!.file)],
  ...img.EXTREME_ASPECTS.map(([name, w, h, f]): [string, () => Promise<Buffer>] => [`extreme aspect: ${name}`, () => img.extremeAspect(w, h, f)]),
  ["lying JPEG: 7000×7000 header, 64×64 scan", () => img.lyingJpeg(7000, 7000)],
  ["truncated JPEG (half)", () => img.truncatedJpeg()],
  ["truncated PNG (90%)", img.truncatedPng],
  ["truncated WebP (70%)", img.truncatedWebp],
  ["PNG bomb: 20000×20000 header", () => img.pngBomb()],
  ["tiny: 40×27 PNG (upscaled to the crop)", () => sharp(img.catJpeg()).resize(40, 27).png().toBuffer()],
];
const inputDir = mkdtempSync(join(tmpdir(), "imgfn-bench-inputs-"));
const clf = await Classifier.load({ manifest: spec.manifest, model: spec.weights.path, labels: spec.labels });
const bad: any[] = [];
for (const [n, [name, make]] of inputs.entries()) {
  const bytes = await make();
  const file = join(inputDir, `input-${n}`);
  writeFileSync(file, bytes);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    await clf.classify(bytes).catch(() => {});
    times.push(performance.now() - t0);
  }
  const mem = await runNode(join(WORK, "input-child.mjs"), [file], childEnv());
  bad.push({ input: name, ms: stats(times.slice(2)), peakMb: r1(mem.peakMb), outcome: mem.outcome });
}
await clf.release();
const normal = bad[0];
const worstTime = bad.slice(1).reduce((a, b) => (b.ms.median > a.ms.median ? b : a));
const worstMem = bad.slice(1).reduce((a, b) => (b.peakMb > a.peakMb ? b : a));
const badInput = {
  normal: normal.input,
  rows: bad,
  worstTime: { input: worstTime.input, ratio: r2(worstTime.ms.median / normal.ms.median) },
  worstMemory: { input: worstMem.input, ratio: r2(worstMem.peakMb / normal.peakMb) },
};
log(`python: worst bad input ${badInput.worstTime.input} ${badInput.worstTime.ratio}× time, ${badInput.worstMemory.input} ${badInput.worstMemory.ratio}× memory`);

await writePart("python", {
  pythonFunction: "bench/python/lambda_function.py",
  versions: (await promisify(execFile)(python, ["-c", "import onnxruntime, PIL, numpy, boto3, sys; print(sys.version.split()[0], onnxruntime.__version__, PIL.__version__, numpy.__version__, boto3.__version__)"])).stdout.trim(),
  runs: RUNS,
  cold: { runs: COLD_RUNS, imgfn: stats(cold.imgfn), python: stats(cold.python) },
  warm,
  memory,
  deps: { pythonShippedBytes: pythonDepsBytes, pythonProvidedByRuntimeBytes: provided, shipped },
  fidelity,
  badInput,
});
for (const dir of [corpusDir, inputDir]) rmSync(dir, { recursive: true, force: true });
process.exit(0);
