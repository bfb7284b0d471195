/** `imgfn golden make`: record what a set of images answers, from the function or the reference. */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { Classifier } from "../../handler/classify.js";
import { DEFAULT_MAX_PIXELS } from "../../handler/settings.js";
import { ConfigError, UserError } from "../errors.js";
import { makeGolden, readGolden, writeGolden } from "../golden/golden.js";
import { packageRoot } from "../paths.js";
import { defineCommand } from "./command.js";
import { loadModelStep, modelOptions } from "./model-options.js";
import { classifyFiles, parsePositive } from "./predict.js";

const makeCommand = defineCommand({
  name: "make <files...>",
  description: "Record each image's sha256 and top-k answer (with the model's id and sha256) in a golden file",
  examples: [
    "golden make samples/*.jpg -o golden.json",
    "golden make photos/*.jpg -o golden.json --from reference --python .venv/bin/python",
    "golden make samples/cat.jpg -o golden.json --top 10 --json",
  ],
  globals: ["json"],
  options: (cmd) => {
    cmd
      .requiredOption("-o, --output <file>", "where to write the golden file (image paths are stored relative to it)")
      .option("--from <source>", "function (imgfn's own code, locally) | reference (reference/classify.py: Pillow + NumPy + onnxruntime)", "function")
      .option("--python <path>", "with --from reference: the Python that has onnxruntime, pillow and numpy", defaultPython())
      .option("-t, --top <n>", "how many classes to record per image", (v) => parsePositive(v, "--top"), 5);
    modelOptions(cmd);
  },
  async run(ctx, files: string[], opts) {
    if (opts.from !== "function" && opts.from !== "reference") throw new ConfigError(`--from must be "function" or "reference" (got "${opts.from}")`);
    const spec = await loadModelStep(ctx, opts);
    if (opts.from === "reference") {
      if (!spec.manifestPath) throw new ConfigError("--from reference needs a model manifest (.json), not a bare .onnx", { hint: "write a manifest like model/model.json for the model" });
      await ctx.out.step("Running the reference pipeline (reference/classify.py)", async () => {
        const args = [join(packageRoot(), "reference", "classify.py"), "--model", spec.manifestPath!, "--weights", spec.weights.path, "--top", String(opts.top), "--golden", opts.output, ...files];
        await promisify(execFile)(opts.python, args, { maxBuffer: 64 * 1024 * 1024 }).catch((err) => {
          const stderr = String(err.stderr ?? "").trim();
          throw new UserError(`the reference pipeline failed (${opts.python}): ${stderr.split("\n").pop() || err.message}`, {
            cause: err,
            hint: `it needs Python with onnxruntime, pillow and numpy: python3 -m venv .venv && .venv/bin/pip install onnxruntime pillow numpy, then --python .venv/bin/python${stderr.includes("could not be classified") ? "; or drop the files it could not classify" : ""}`,
          });
        });
      });
    } else {
      const classifier = await Classifier.load({ manifest: spec.manifest, model: spec.weights.path, labels: spec.labels });
      const results = await classifyFiles(classifier, files, { topK: opts.top, maxPixels: DEFAULT_MAX_PIXELS });
      await classifier.release();
      const failed = results.filter((r) => r.error);
      if (failed.length) {
        throw new UserError(`${failed.length} of ${files.length} images could not be classified, so they cannot be golden: ${failed.map((r) => `${r.file} (${r.error!.code})`).join(", ")}`, {
          hint: "a golden set holds images the function classifies; leave these out",
        });
      }
      const images = await Promise.all(files.map((f) => readFile(f)));
      const golden = makeGolden(files, images, results.map((r) => r.predictions!.map(({ index, label, score }) => ({ index, label, score }))), {
        output: opts.output,
        source: "function",
        model: { id: spec.manifest.id, sha256: spec.weights.sha256 },
        preprocess: { ...spec.manifest.preprocess },
        topK: opts.top,
      });
      await writeGolden(opts.output, golden);
    }
    const golden = await readGolden(opts.output);
    ctx.out.result({ output: opts.output, source: golden.source, model: golden.model, files: golden.files.length });
    ctx.out.print(`wrote ${opts.output}: ${golden.files.length} image${golden.files.length > 1 ? "s" : ""} from the ${golden.source === "reference" ? "reference pipeline" : "function"}, model ${golden.model.id}`);
  },
});

/** The repo's reference venv when it exists (made by the tests or .ci/run), else python3. */
function defaultPython(): string {
  const venv = join(packageRoot(), ".imgfn", "pyref", "bin", "python");
  return existsSync(venv) ? venv : "python3";
}

export const goldenCommand = defineCommand({
  description: "Golden files: what a set of images must answer, checked by predict/demo/deploy --golden",
  examples: ["golden make samples/*.jpg -o golden.json", "predict --golden golden.json", "deploy --golden golden.json"],
  globals: ["json"],
  subcommands: [makeCommand],
});
