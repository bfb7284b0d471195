import { InvalidArgumentError } from "commander";
import { readFile, stat } from "node:fs/promises";
import { relative, resolve } from "node:path";
import { Classifier, ImageInputError } from "../../handler/classify.js";
import { DEFAULT_MAX_PIXELS, DEFAULT_SUFFIXES } from "../../handler/settings.js";
import { ConfigError, InputNotFound, PartialFailure } from "../errors.js";
import { compareGolden, GoldenMismatch, goldenPaths, readGolden, readGoldenImages, renderGoldenReport } from "../golden/golden.js";
import { goldenOptions } from "./golden-options.js";
import { loadModelStep, modelOptions } from "./model-options.js";
import { defineCommand, parsePositive } from "./command.js";
import { type FileResult, fileReadError, printFileResults } from "../ui/predictions.js";
import { walk } from "./upload.js";

export type { FileResult };

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
    printFileResults(ctx.out, results);
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
      const error = err instanceof ImageInputError ? { code: err.code, message: err.message } : fileReadError(err, file);
      if (!error) throw err;
      results.push({ file, error });
    }
  }
  return results;
}

const round = (v: number) => Math.round(v * 100) / 100;

// kept here for the commands that import it from predict (it lives in command.ts, which loads no native module)
export { parsePositive };

export function parseNonNegative(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a whole number (0 or more), got "${value}"`);
  return n;
}
