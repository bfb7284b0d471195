/** The --model/--labels/preprocessing flags shared by predict, model info, dev, build and deploy. */
import type { Command } from "commander";
import { type ModelSpec, loadModel } from "../model/spec.js";
import type { Preprocess } from "../../handler/manifest.js";
import { ConfigError } from "../errors.js";
import { formatBytes, type StepHandle } from "../ui/output.js";
import type { Context } from "./command.js";

export function modelOptions(cmd: Command): void {
  cmd
    .option("-m, --model <path>", "model manifest (.json) or ONNX weights (.onnx); default: bundled MobileNetV2")
    .option("--labels <file>", "class names for a bare .onnx (JSON array or one per line)")
    .option("--weights <file>", "use this weights file for the manifest instead of cache/mirror/download")
    .option("--resize <px>", "bare .onnx: resize the shorter side to this (default crop×256/224)")
    .option("--crop <px>", "bare .onnx: centre-crop size = model input size (default 224)")
    .option("--mean <r,g,b>", "bare .onnx: per-channel mean after scaling (default ImageNet)")
    .option("--std <r,g,b>", "bare .onnx: per-channel std (default ImageNet)")
    .option("--scale <x>", "bare .onnx: multiply 0-255 pixels by this first (default 1/255)")
    .option("--bgr", "bare .onnx: the model wants BGR channel order")
    .option("--nhwc", "bare .onnx: the model wants NHWC layout (default NCHW)")
    .option("--input-name <name>", "bare .onnx: input tensor name (default: the model's first input)")
    .option("--output-name <name>", "bare .onnx: output tensor name (default: the model's first output)")
    .option("--probabilities", "bare .onnx: the output already holds probabilities (no softmax)");
}

function triple(value: string | undefined, flag: string): [number, number, number] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(",").map(Number);
  if (parts.length !== 3 || parts.some((n) => !Number.isFinite(n))) throw new ConfigError(`${flag} must be three numbers like 0.485,0.456,0.406 (got "${value}")`);
  return parts as [number, number, number];
}

function num(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${flag} must be a positive number (got "${value}")`);
  return n;
}

/** The "Loading model" step predict, build, dev and demo show: progress, then the model and where its weights came from. */
export function loadModelStep(ctx: Context, opts: Record<string, any>, defaults: { model?: string; labels?: string } = {}): Promise<ModelSpec> {
  return ctx.out.step("Loading model", async (s) => {
    const m = await loadModelFromOptions(ctx, opts, s, defaults);
    s.done(`${m.manifest.id} (weights from ${m.weights.source})`);
    return m;
  });
}

/** Options → ModelSpec, with download progress shown on the step. */
export async function loadModelFromOptions(ctx: Context, opts: Record<string, any>, step?: StepHandle, defaults: { model?: string; labels?: string; offline?: boolean } = {}): Promise<ModelSpec> {
  const preprocess: Partial<Preprocess> = {};
  const set = <K extends keyof Preprocess>(k: K, v: Preprocess[K] | undefined) => {
    if (v !== undefined) preprocess[k] = v;
  };
  set("resize", num(opts.resize, "--resize"));
  set("crop", num(opts.crop, "--crop"));
  set("mean", triple(opts.mean, "--mean"));
  set("std", triple(opts.std, "--std"));
  set("scale", num(opts.scale, "--scale"));
  if (opts.bgr) preprocess.channelOrder = "BGR";
  if (opts.nhwc) preprocess.layout = "NHWC";
  return loadModel(
    {
      model: opts.model ?? defaults.model,
      labels: opts.labels ?? defaults.labels,
      weights: opts.weights,
      preprocess: Object.keys(preprocess).length ? preprocess : undefined,
      inputName: opts.inputName,
      outputName: opts.outputName,
      outputKind: opts.probabilities ? "probabilities" : undefined,
    },
    {
      env: ctx.env,
      offline: defaults.offline,
      onProgress: (received, total) =>
        step?.update(`downloading ${formatBytes(received)}${total ? ` of ${formatBytes(total)} (${Math.floor((received / total) * 100)}%)` : ""}`),
    },
  );
}
