import { ModelError } from "../errors.js";
import { cachedWeightsPath, resolveWeights } from "../model/resolve.js";
import { loadManifest, loadManifestLabels } from "../model/spec.js";
import { defaultManifestPath } from "../paths.js";
import { formatBytes } from "../ui/output.js";
import { defineCommand } from "./command.js";
import { loadModelFromOptions, modelOptions } from "./model-options.js";

const fetchCommand = defineCommand({
  name: "fetch",
  description: "Put the model's weights in the user cache (mirror or download, checksum verified)",
  examples: ["model fetch", "model fetch --model my-model/model.json"],
  globals: ["json"],
  options: (cmd) => cmd.option("-m, --model <path>", "model manifest (.json); default: bundled MobileNetV2"),
  async run(ctx, opts) {
    const manifest = await loadManifest(opts.model ?? defaultManifestPath());
    const weights = await ctx.out.step(`Fetching ${manifest.id}`, async (s) => {
      const w = await resolveWeights(manifest, {
        env: ctx.env,
        onProgress: (r, t) => s.update(`${formatBytes(r)}${t ? ` of ${formatBytes(t)}` : ""}`),
      });
      s.done(`${formatBytes(w.bytes)} from ${w.source}`);
      return w;
    });
    ctx.out.result({ id: manifest.id, path: weights.path, source: weights.source, sha256: weights.sha256, bytes: weights.bytes });
    ctx.out.print(weights.path);
  },
});

const infoCommand = defineCommand({
  name: "info",
  description: "Print the model manifest and where its weights resolve from",
  examples: ["model info", "model info --model my-model.onnx --labels labels.txt --json"],
  globals: ["json"],
  options: (cmd) => modelOptions(cmd),
  async run(ctx, opts) {
    let weights: { path: string; source: string; sha256: string; bytes: number } | { error: string; hint?: string };
    let spec;
    try {
      spec = await loadModelFromOptions(ctx, opts, undefined, { offline: true });
      weights = spec.weights;
    } catch (err) {
      if (!(err instanceof ModelError) || (opts.model && opts.model.endsWith(".onnx"))) throw err;
      // Say what is missing without downloading anything.
      const manifestPath = opts.model ?? defaultManifestPath();
      const manifest = await loadManifest(manifestPath);
      // the labels are beside the manifest: count them even when the weights are missing
      const labels = await loadManifestLabels(manifest, manifestPath).then((l) => l.labels, () => [] as string[]);
      spec = { manifest, manifestPath, labels };
      weights = { error: err.message, hint: err.hint };
    }
    const { manifest } = spec;
    ctx.out.result({ manifest, manifestPath: spec.manifestPath ?? null, labels: spec.labels.length, weights });
    const p = manifest.preprocess;
    const rows = [
      ["id", manifest.id],
      ["name", manifest.name ?? ""],
      ["licence", manifest.license ?? "unknown"],
      ["manifest", spec.manifestPath ?? "(built from flags)"],
      ["file", `${manifest.file}${manifest.bytes ? ` (${formatBytes(manifest.bytes)})` : ""}`],
      ["sha256", manifest.sha256 ?? "(none)"],
      ["input", `${manifest.input.name || "(first input)"} ${JSON.stringify(manifest.input.shape)}`],
      ["preprocess", `shorter side ${p.resize} (${p.filter}, ${p.fidelity}), centre crop ${p.crop}, ×${+p.scale.toFixed(6)}, mean ${p.mean.join("/")}, std ${p.std.join("/")}, ${p.channelOrder}, ${p.layout}`],
      ["output", `${manifest.output.name || "(first output)"} (${manifest.output.kind})`],
      ["labels", `${spec.labels.length || "?"} classes`],
      ["weights", "error" in weights ? ctx.out.c.red("not available: ") + weights.error : `${weights.path} (${weights.source})`],
    ];
    if (manifest.sha256 && !("error" in weights) && weights.source !== "explicit") rows.push(["cache", cachedWeightsPath(manifest, ctx.env)]);
    ctx.out.print(ctx.out.table(rows, { shrink: [1] }));
    if ("error" in weights && weights.hint) ctx.out.print(`\nnext step: ${ctx.out.runnable(weights.hint)}`);
  },
});

export const modelCommand = defineCommand({
  examples: ["model info", "model fetch", "model info --model my-model.onnx --labels labels.txt", "model info --json"],
  globals: ["json"],
  subcommands: [fetchCommand, infoCommand],
});
