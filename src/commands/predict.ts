import { InvalidArgumentError } from "commander";
import { readFile } from "node:fs/promises";
import { Classifier, ImageInputError, type Prediction } from "../../handler/classify.js";
import { DEFAULT_MAX_PIXELS } from "../../handler/settings.js";
import { ConfigError, PartialFailure } from "../errors.js";
import { compareGolden, GoldenMismatch, goldenPaths, readGolden, readGoldenImages, renderGoldenReport } from "../golden/golden.js";
import { goldenOptions } from "./golden-options.js";
import { loadModelStep, modelOptions } from "./model-options.js";
import { defineCommand } from "./command.js";
import { formatMs, table } from "../ui/output.js";

export interface FileResult {
  file: string;
  predictions?: Prediction[];
  image?: { format: string; width: number; height: number };
  timings?: { read: number; preprocess: number; inference: number };
  error?: { code: string; message: string };
}

export const predictCommand = defineCommand({
  options: (cmd) => {
    cmd.option("-t, --top <n>", "how many predictions to show per file", (v) => parsePositive(v, "--top"), 5);
    cmd.option("--threads <n>", "ONNX Runtime intra-op threads", (v) => parsePositive(v, "--threads"), 1);
    cmd.option("--max-pixels <n>", "refuse images larger than this many pixels", (v) => parsePositive(v, "--max-pixels"), DEFAULT_MAX_PIXELS);
    goldenOptions(cmd, "classify the golden file's images and check they answer as it recorded (files are then optional)");
    modelOptions(cmd);
  },
  async run(ctx, files: string[], opts) {
    const golden = opts.golden ? await readGolden(opts.golden) : undefined;
    if (!golden && files.length === 0) throw new ConfigError("pass image files to classify, or --golden <file>");
    const spec = await loadModelStep(ctx, opts);
    const classifier = await Classifier.load({ manifest: spec.manifest, model: spec.weights.path, labels: spec.labels, threads: opts.threads });
    const paths = golden ? goldenPaths(golden, opts.golden) : files;
    if (golden) await readGoldenImages(golden, opts.golden); // the images are still the recorded ones
    const top = golden ? Math.max(opts.top, golden.topK) : opts.top;
    const results = await classifyFiles(classifier, paths, { topK: top, maxPixels: opts.maxPixels });
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
      ctx.out.print(table(r.predictions!.map((p, i) => [`${i + 1}.`, (p.score * 100).toFixed(1).padStart(5) + "%", p.label, c.dim(`#${p.index}`)]), { indent: 2 }));
    }
    const failed = results.filter((r) => r.error).length;
    if (failed) throw new PartialFailure(`${failed} of ${results.length} file${results.length > 1 ? "s" : ""} could not be classified`);
  },
});

/** Classifies local files with the function's code; a bad file gets an error entry, not a throw. */
export async function classifyFiles(classifier: Classifier, files: string[], opts: { topK: number; maxPixels: number }): Promise<FileResult[]> {
  const results: FileResult[] = [];
  for (const file of files) {
    const started = performance.now();
    try {
      const bytes = await readFile(file);
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
