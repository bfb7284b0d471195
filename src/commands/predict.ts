import { InvalidArgumentError } from "commander";
import { readFile, stat } from "node:fs/promises";
import { relative, resolve } from "node:path";
import { Classifier, ImageInputError, type Prediction } from "../../handler/classify.js";
import { DEFAULT_MAX_PIXELS, DEFAULT_SUFFIXES } from "../../handler/settings.js";
import { ConfigError, InputNotFound, PartialFailure } from "../errors.js";
import { compareGolden, GoldenMismatch, goldenPaths, readGolden, readGoldenImages, renderGoldenReport } from "../golden/golden.js";
import { goldenOptions } from "./golden-options.js";
import { loadModelStep, modelOptions } from "./model-options.js";
import { defineCommand } from "./command.js";
import { formatMs } from "../ui/output.js";
import { walk } from "./upload.js";

export interface FileResult {
  file: string;
  predictions?: Prediction[];
  image?: { format: string; width: number; height: number };
  timings?: { read: number; preprocess: number; inference: number };
  error?: { code: string; message: string };
}

/** Files as given; a folder becomes the images in it (any depth), as `upload` takes folders. */
async function expandFolders(files: string[], cwd: string): Promise<string[]> {
  const out: string[] = [];
  const image = (f: string) => DEFAULT_SUFFIXES.some((s) => f.toLowerCase().endsWith(s.toLowerCase()));
  for (const f of files) {
    const info = await stat(resolve(cwd, f)).catch(() => undefined);
    if (info?.isDirectory()) out.push(...(await walk(resolve(cwd, f))).filter(image).map((p) => relative(cwd, p) || p));
    else out.push(f); // a missing file is reported per file below
  }
  return out;
}

export const predictCommand = defineCommand({
  examples: [
    "predict samples/cat.jpg",
    "predict photos/ --top 3",
    "predict photo.jpg --model my-model.onnx --labels labels.txt",
    "predict --golden golden.json",
  ],
  globals: ["json"],
  options: (cmd) => {
    cmd.option("-t, --top <n>", "how many predictions to show per file", (v) => parsePositive(v, "--top"), 5);
    cmd.option("--threads <n>", "ONNX Runtime intra-op threads", (v) => parsePositive(v, "--threads"), 1);
    cmd.option("--max-pixels <n>", "refuse images larger than this many pixels", (v) => parsePositive(v, "--max-pixels"), DEFAULT_MAX_PIXELS);
    goldenOptions(cmd, "classify the golden file's images and check they answer as it recorded (files are then optional)");
    modelOptions(cmd);
  },
  async run(ctx, given: string[], opts) {
    const golden = opts.golden ? await readGolden(opts.golden) : undefined;
    if (!golden && given.length === 0) throw new ConfigError("pass image files to classify, or --golden <file>");
    const files = golden ? goldenPaths(golden, opts.golden) : await expandFolders(given, ctx.cwd);
    if (files.length === 0) throw new InputNotFound(`no images (${DEFAULT_SUFFIXES.filter((s) => s === s.toLowerCase()).join(", ")}) under ${given.join(", ")}`);
    if (golden) await readGoldenImages(golden, opts.golden); // the images are still the recorded ones
    const spec = await loadModelStep(ctx, opts);
    const classifier = await Classifier.load({ manifest: spec.manifest, model: spec.weights.path, labels: spec.labels, threads: opts.threads });
    const top = golden ? Math.max(opts.top, golden.topK) : opts.top;
    const results = await classifyFiles(classifier, files, { topK: top, maxPixels: opts.maxPixels }, ctx.cwd);
    await classifier.release();
    if (golden) {
      const report = compareGolden(golden, results, opts.tolerance, { id: spec.manifest.id, sha256: spec.weights.sha256 });
      ctx.out.result({ golden: report, results });
      ctx.out.print(renderGoldenReport(report));
      if (!report.passed) throw new GoldenMismatch(report);
      return;
    }
    ctx.out.result(results);
    const { c } = ctx.out;
    for (const r of results) {
      if (r.error) {
        ctx.out.print(`${c.bold(r.file)}  ${c.red(r.error.code)}: ${r.error.message}`);
        continue;
      }
      const t = r.timings!;
      ctx.out.print(`${c.bold(r.file)}  ${c.dim(`${r.image!.width}x${r.image!.height} ${r.image!.format}, preprocess ${formatMs(t.preprocess)}, inference ${formatMs(t.inference)}`)}`);
      ctx.out.print(ctx.out.table(r.predictions!.map((p, i) => [`${i + 1}.`, (p.score * 100).toFixed(1) + "%", p.label, c.dim(`#${p.index}`)]), { indent: 2, right: [0, 1], shrink: [2] }));
    }
    const failed = results.filter((r) => r.error).length;
    if (failed) throw new PartialFailure(`${failed} of ${results.length} file${results.length > 1 ? "s" : ""} could not be classified`);
  },
});

/** Classifies local files with the function's code; a bad file gets an error entry, not a throw. */
export async function classifyFiles(
  classifier: Classifier,
  files: string[],
  opts: { topK: number; maxPixels: number },
  cwd = process.cwd(),
): Promise<FileResult[]> {
  const results: FileResult[] = [];
  for (const file of files) {
    const started = performance.now();
    try {
      const bytes = await readFile(resolve(cwd, file));
      const read = performance.now() - started;
      const r = await classifier.classify(bytes, opts);
      results.push({ file, predictions: r.predictions, image: r.image, timings: { read: round(read), ...r.timings } });
    } catch (err) {
      if (err instanceof ImageInputError) results.push({ file, error: { code: err.code, message: err.message } });
      else if ((err as NodeJS.ErrnoException).code === "ENOENT") results.push({ file, error: { code: "FILE_NOT_FOUND", message: `no such file: ${file}` } });
      else if ((err as NodeJS.ErrnoException).code === "EISDIR") results.push({ file, error: { code: "IS_A_DIRECTORY", message: `${file} is a folder; pass image files` } });
      else throw err;
    }
  }
  return results;
}

const round = (v: number) => Math.round(v * 100) / 100;

export function parsePositive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive integer, got "${value}"`);
  return n;
}

export function parseNonNegative(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a whole number (0 or more), got "${value}"`);
  return n;
}
