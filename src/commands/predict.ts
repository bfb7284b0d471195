import { readFile } from "node:fs/promises";
import { Classifier, ImageInputError } from "../../handler/classify.js";
import { DEFAULT_MAX_PIXELS } from "../../handler/settings.js";
import { PartialFailure } from "../errors.js";
import { loadModelStep, modelOptions } from "./model-options.js";
import { defineCommand, parsePositive } from "./command.js";
import { type FileResult, fileReadError, printFileResults } from "../ui/predictions.js";

export const predictCommand = defineCommand({
  options: (cmd) => {
    cmd.option("-t, --top <n>", "how many predictions to show per file", (v) => parsePositive(v, "--top"), 5);
    cmd.option("--threads <n>", "ONNX Runtime intra-op threads", (v) => parsePositive(v, "--threads"), 1);
    cmd.option("--max-pixels <n>", "refuse images larger than this many pixels", (v) => parsePositive(v, "--max-pixels"), DEFAULT_MAX_PIXELS);
    modelOptions(cmd);
  },
  async run(ctx, files: string[], opts) {
    const spec = await loadModelStep(ctx, opts);
    const classifier = await Classifier.load({ manifest: spec.manifest, model: spec.weights.path, labels: spec.labels, threads: opts.threads });
    const results: FileResult[] = [];
    for (const file of files) {
      const started = performance.now();
      try {
        const bytes = await readFile(file);
        const read = performance.now() - started;
        const r = await classifier.classify(bytes, { topK: opts.top, maxPixels: opts.maxPixels });
        results.push({ file, predictions: r.predictions, image: r.image, timings: { read: round(read), ...r.timings } });
      } catch (err) {
        const error = err instanceof ImageInputError ? { code: err.code, message: err.message } : fileReadError(err, file);
        if (!error) throw err;
        results.push({ file, error });
      }
    }
    await classifier.release();
    ctx.out.result(results);
    printFileResults(ctx.out, results);
    const failed = results.filter((r) => r.error).length;
    if (failed) throw new PartialFailure(`${failed} of ${results.length} file${results.length > 1 ? "s" : ""} could not be classified`);
  },
});

const round = (v: number) => Math.round(v * 100) / 100;

// kept here for the commands that import it from predict (it lives in command.ts, which loads no native module)
export { parsePositive };
