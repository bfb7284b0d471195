import { RESIZE_FILTERS, type ResizeFilter } from "./resample.js";

/**
 * The model manifest: everything imgfn needs to know to run a classification model, in one
 * JSON document (model/model.json for the default model). Shared by the function and the CLI.
 */

export interface Preprocess {
  /** Resize so the shorter side is this many pixels (before the centre crop). */
  resize: number;
  /** Centre-crop a square of this many pixels. Must be <= resize. */
  crop: number;
  /** Multiply each 0..255 pixel value by this before mean/std (1/255 for [0,1]). */
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
  channelOrder: "RGB" | "BGR";
  layout: "NCHW" | "NHWC";
  /** The resize's filter, with Pillow's semantics (antialiased when shrinking). */
  filter: ResizeFilter;
  /**
   * "exact": full-resolution decode, so the tensor equals the reference pipeline's
   * (reference/classify.py) bit for bit on the same decoded pixels. "fast": large JPEGs and WebPs
   * decode shrunk (shrink-on-load) first. BENCHMARKS.md has both measured.
   */
  fidelity: Fidelity;
}

export type Fidelity = "exact" | "fast";
export const FIDELITIES: Fidelity[] = ["exact", "fast"];
export const DEFAULT_FIDELITY: Fidelity = "exact";

export interface ModelManifest {
  id: string;
  name?: string;
  license?: string;
  /** File name of the weights (an .onnx file). */
  file: string;
  bytes?: number;
  /** Lower-case hex sha256 of the weights; optional only for bring-your-own models. */
  sha256?: string;
  urls?: string[];
  input: { name: string; shape: number[] };
  preprocess: Preprocess;
  output: { name: string; kind: "logits" | "probabilities" };
  /** Labels file name relative to the manifest (JSON array or one label per line). */
  labels: string;
}

export class ManifestError extends Error {
  constructor(
    message: string,
    readonly source: string,
  ) {
    super(`${source}: ${message}`);
    this.name = "ManifestError";
  }
}

function isNumberArray(value: unknown, length?: number): value is number[] {
  return (
    Array.isArray(value) &&
    (length === undefined || value.length === length) &&
    value.every((v) => typeof v === "number" && Number.isFinite(v))
  );
}

/** Checks a parsed manifest and fills defaults; throws ManifestError naming the bad field. */
export function validateManifest(raw: unknown, source = "model manifest"): ModelManifest {
  const fail = (msg: string): never => {
    throw new ManifestError(msg, source);
  };
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) fail("must be a JSON object");
  const m = raw as Record<string, any>;
  for (const key of ["id", "file", "labels"]) {
    if (typeof m[key] !== "string" || m[key].length === 0) fail(`"${key}" must be a non-empty string`);
  }
  if (/[\\/]/.test(m.file) && !m.file.startsWith("/")) fail(`"file" must be a file name, not a path`);
  if (m.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(m.sha256)) fail(`"sha256" must be 64 lower-case hex digits`);
  if (m.bytes !== undefined && !(Number.isInteger(m.bytes) && m.bytes > 0)) fail(`"bytes" must be a positive integer`);
  if (m.urls !== undefined && !(Array.isArray(m.urls) && m.urls.every((u: unknown) => typeof u === "string"))) {
    fail(`"urls" must be an array of strings`);
  }
  // An empty input/output name means "the model's first input/output" (bring-your-own models).
  if (!m.input || typeof m.input.name !== "string") fail(`"input.name" must be a string`);
  if (!isNumberArray(m.input.shape, 4)) fail(`"input.shape" must be 4 numbers, e.g. [1, 3, 224, 224]`);
  const p = m.preprocess ?? {};
  const pre: Preprocess = {
    resize: p.resize ?? 256,
    crop: p.crop ?? 224,
    scale: p.scale ?? 1 / 255,
    mean: p.mean ?? [0.485, 0.456, 0.406],
    std: p.std ?? [0.229, 0.224, 0.225],
    channelOrder: p.channelOrder ?? "RGB",
    layout: p.layout ?? "NCHW",
    filter: p.filter ?? "bilinear",
    fidelity: p.fidelity ?? DEFAULT_FIDELITY,
  };
  if (!(Number.isInteger(pre.resize) && pre.resize > 0)) fail(`"preprocess.resize" must be a positive integer`);
  if (!(Number.isInteger(pre.crop) && pre.crop > 0 && pre.crop <= pre.resize)) {
    fail(`"preprocess.crop" must be a positive integer no larger than "preprocess.resize"`);
  }
  if (typeof pre.scale !== "number" || !(pre.scale > 0)) fail(`"preprocess.scale" must be a positive number`);
  if (!isNumberArray(pre.mean, 3)) fail(`"preprocess.mean" must be 3 numbers`);
  if (!isNumberArray(pre.std, 3) || pre.std.some((s) => s === 0)) fail(`"preprocess.std" must be 3 non-zero numbers`);
  if (pre.channelOrder !== "RGB" && pre.channelOrder !== "BGR") fail(`"preprocess.channelOrder" must be "RGB" or "BGR"`);
  if (pre.layout !== "NCHW" && pre.layout !== "NHWC") fail(`"preprocess.layout" must be "NCHW" or "NHWC"`);
  if (!RESIZE_FILTERS.includes(pre.filter)) fail(`"preprocess.filter" must be one of ${RESIZE_FILTERS.map((f) => `"${f}"`).join(", ")}`);
  if (!FIDELITIES.includes(pre.fidelity)) fail(`"preprocess.fidelity" must be "exact" or "fast"`);
  const shape = m.input.shape as number[];
  const [h, w] = pre.layout === "NCHW" ? [shape[2], shape[3]] : [shape[1], shape[2]];
  const channels = pre.layout === "NCHW" ? shape[1] : shape[3];
  if (channels !== 3) fail(`"input.shape" must have 3 channels for layout ${pre.layout}`);
  for (const dim of [h, w]) {
    if (dim > 0 && dim !== pre.crop) fail(`"input.shape" spatial size ${dim} differs from "preprocess.crop" ${pre.crop}`);
  }
  if (!m.output || typeof m.output.name !== "string") fail(`"output.name" must be a string`);
  const kind = m.output.kind ?? "logits";
  if (kind !== "logits" && kind !== "probabilities") fail(`"output.kind" must be "logits" or "probabilities"`);
  return {
    ...(m as ModelManifest),
    preprocess: pre,
    output: { name: m.output.name, kind },
  };
}

/** Labels as a JSON array of strings, or one label per line. */
export function parseLabels(text: string, source = "labels"): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new ManifestError(`not valid JSON (${(err as Error).message})`, source);
    }
    if (!Array.isArray(parsed) || !parsed.every((l) => typeof l === "string")) {
      throw new ManifestError("must be a JSON array of strings", source);
    }
    return parsed;
  }
  const lines = trimmed.split(/\r?\n/).map((l) => l.trim());
  if (lines.length === 0 || lines[0] === "") throw new ManifestError("holds no labels", source);
  return lines;
}
