/**
 * Turns the user's model choice (default manifest, a manifest file, or a bare .onnx with flags)
 * into one ModelSpec: validated manifest + labels + resolved weights.
 */
import { readFile } from "node:fs/promises";
import { basename, dirname, extname, isAbsolute, join, resolve } from "node:path";
import { type ModelManifest, type Preprocess, ManifestError, parseLabels, validateManifest } from "../../handler/manifest.js";
import { ConfigError, ModelError } from "../errors.js";
import { defaultManifestPath } from "../paths.js";
import { type ResolveOptions, type ResolvedWeights, resolveWeights, sha256File } from "./resolve.js";

export interface ModelChoice {
  /** Path to a manifest (.json) or to weights (.onnx); default: imgfn's bundled manifest. */
  model?: string;
  /** Labels file for a bare .onnx (JSON array or one per line). */
  labels?: string;
  /** Explicit weights path for a manifest (skips cache/mirror/download). */
  weights?: string;
  preprocess?: Partial<Preprocess>;
  inputName?: string;
  outputName?: string;
  outputKind?: "logits" | "probabilities";
}

export interface ModelSpec {
  manifest: ModelManifest;
  /** The manifest file, when there is one. */
  manifestPath?: string;
  labels: string[];
  labelsPath: string;
  weights: ResolvedWeights;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new ModelError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ManifestError) throw new ConfigError(err.message, { cause: err });
    throw err;
  }
}

export async function loadManifest(path: string): Promise<ModelManifest> {
  const text = await readText(path, "model manifest");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return wrap(() => validateManifest(raw, path));
}

export async function loadModel(choice: ModelChoice = {}, resolveOpts: ResolveOptions = {}): Promise<ModelSpec> {
  const modelPath = choice.model ? resolve(choice.model) : defaultManifestPath();
  if (extname(modelPath).toLowerCase() === ".onnx") return loadBareOnnx(modelPath, choice);
  if (choice.labels) throw new ConfigError("--labels applies to a bare .onnx model; a manifest names its own labels file");
  const manifest = await loadManifest(modelPath);
  if (choice.preprocess || choice.inputName || choice.outputName || choice.outputKind) {
    throw new ConfigError("preprocessing and input/output flags apply to a bare .onnx model; edit the manifest instead");
  }
  const { labels, labelsPath } = await loadManifestLabels(manifest, modelPath);
  return { manifest, manifestPath: modelPath, labels, labelsPath, weights: await weightsFor(manifest, dirname(modelPath), choice, resolveOpts) };
}

/** The class names a manifest names (a path relative to the manifest's folder), without the weights. */
export async function loadManifestLabels(manifest: ModelManifest, manifestPath: string): Promise<{ labels: string[]; labelsPath: string }> {
  const labelsPath = isAbsolute(manifest.labels) ? manifest.labels : join(dirname(manifestPath), manifest.labels);
  const labelsText = await readText(labelsPath, "labels file");
  return { labels: wrap(() => parseLabels(labelsText, labelsPath)), labelsPath };
}

async function weightsFor(manifest: ModelManifest, dir: string, choice: ModelChoice, opts: ResolveOptions): Promise<ResolvedWeights> {
  let explicitPath = choice.weights ?? (isAbsolute(manifest.file) ? manifest.file : undefined);
  if (!explicitPath) {
    // A manifest kept beside its weights (a user's own model folder) uses them in place.
    const sibling = join(dir, manifest.file);
    if (await readFile(sibling).then(() => true, () => false)) explicitPath = sibling;
  }
  return resolveWeights(manifest, { ...opts, explicitPath });
}

/** A bare .onnx: the manifest is built from flags, with ImageNet-style defaults. */
async function loadBareOnnx(path: string, choice: ModelChoice): Promise<ModelSpec> {
  if (!choice.labels) {
    throw new ConfigError(`a bare .onnx model needs its class names: add --labels <file> (JSON array or one label per line)`);
  }
  const labelsPath = resolve(choice.labels);
  const text = await readText(labelsPath, "labels file");
  const parsedLabels = wrap(() => parseLabels(text, labelsPath));
  const sha256 = await sha256File(path).catch((err) => {
    throw new ModelError(`cannot read model ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, { cause: err });
  });
  const pre = choice.preprocess ?? {};
  const crop = pre.crop ?? 224;
  const layout = pre.layout ?? "NCHW";
  const manifest = wrap(() =>
    validateManifest(
      {
        id: basename(path, extname(path)),
        file: basename(path),
        sha256,
        input: { name: choice.inputName ?? "", shape: layout === "NCHW" ? [1, 3, crop, crop] : [1, crop, crop, 3] },
        preprocess: { ...pre, crop, resize: pre.resize ?? Math.max(crop, Math.round((crop * 256) / 224)) },
        output: { name: choice.outputName ?? "", kind: choice.outputKind ?? "logits" },
        labels: basename(labelsPath),
      },
      path,
    ),
  );
  const weights = await resolveWeights(manifest, { explicitPath: path });
  return { manifest, labels: parsedLabels, labelsPath, weights };
}
