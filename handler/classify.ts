/**
 * Image classification: sharp preprocessing driven by the model manifest, one ONNX Runtime
 * session, softmax and top-k. Used by the Lambda handler and by `imgfn predict`.
 */
import * as ort from "onnxruntime-node";
import sharp, { type Metadata, type OutputInfo } from "sharp";
import type { ModelManifest } from "./manifest.js";
import { DEFAULT_MAX_PIXELS } from "./settings.js";
import { cropResampler, planCrop, type SourceRegion } from "./resample.js";

export interface Prediction {
  label: string;
  index: number;
  score: number;
}

export interface ClassifyResult {
  predictions: Prediction[];
  image: { format: string; width: number; height: number };
  /** Milliseconds: decode + resize + normalise, and the ONNX run. */
  timings: { preprocess: number; inference: number };
}

export type ImageErrorCode =
  | "EMPTY_OBJECT"
  | "OBJECT_TOO_LARGE"
  | "NOT_AN_IMAGE"
  | "UNSUPPORTED_FORMAT"
  | "IMAGE_TOO_LARGE"
  | "CORRUPT_IMAGE";

/** A problem with the input image itself: retrying will not help, so it becomes an error result. */
export class ImageInputError extends Error {
  constructor(
    readonly code: ImageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ImageInputError";
  }
}

// Every image is decoded once, so libvips' operation cache would only hold memory: off, it lowers
// the peak RSS of a 12 MP JPEG by about 40 MB (BENCHMARKS.md, item 8).
sharp.cache(false);

/** Formats the classifier decodes (sharp's prebuilt libvips). */
export const SUPPORTED_FORMATS = new Set(["jpeg", "png", "webp", "gif", "tiff", "avif", "heif"]);

export interface ClassifierOptions {
  manifest: ModelManifest;
  /** Path to the .onnx file, or its bytes. */
  model: string | Uint8Array;
  labels: string[];
  /** ONNX Runtime intra-op threads (see BENCHMARKS.md for why 1 is the default). */
  threads?: number;
}

export interface ClassifyOptions {
  topK?: number;
  maxPixels?: number;
}

export class Classifier {
  private constructor(
    readonly manifest: ModelManifest,
    readonly labels: string[],
    private readonly session: ort.InferenceSession,
  ) {}

  static async load(opts: ClassifierOptions): Promise<Classifier> {
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: opts.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    };
    const session =
      typeof opts.model === "string"
        ? await ort.InferenceSession.create(opts.model, sessionOptions)
        : await ort.InferenceSession.create(opts.model, sessionOptions);
    const manifest = {
      ...opts.manifest,
      input: { ...opts.manifest.input, name: opts.manifest.input.name || session.inputNames[0] },
      output: { ...opts.manifest.output, name: opts.manifest.output.name || session.outputNames[0] },
    };
    if (!session.inputNames.includes(manifest.input.name)) {
      throw new Error(
        `model input "${manifest.input.name}" not found (the model has: ${session.inputNames.join(", ")}); fix "input.name" in the manifest`,
      );
    }
    if (!session.outputNames.includes(manifest.output.name)) {
      throw new Error(
        `model output "${manifest.output.name}" not found (the model has: ${session.outputNames.join(", ")}); fix "output.name" in the manifest`,
      );
    }
    return new Classifier(manifest, opts.labels, session);
  }

  /** Decodes, preprocesses and classifies one encoded image. Throws ImageInputError for bad input. */
  async classify(input: Uint8Array, opts: ClassifyOptions = {}): Promise<ClassifyResult> {
    const t0 = performance.now();
    const { tensor, image } = await preprocess(input, this.manifest, opts.maxPixels ?? DEFAULT_MAX_PIXELS);
    const t1 = performance.now();
    const outputs = await this.session.run({ [this.manifest.input.name]: tensor });
    const t2 = performance.now();
    const scores = outputs[this.manifest.output.name].data as Float32Array;
    const probs = this.manifest.output.kind === "logits" ? softmax(scores) : scores;
    return {
      predictions: topK(probs, this.labels, opts.topK ?? 5),
      image,
      timings: { preprocess: round(t1 - t0), inference: round(t2 - t1) },
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/**
 * Reads only the header to refuse bad input cheaply (no pixel is decoded for a decompression
 * bomb), plans the manifest's resize-shorter-side-then-centre-crop in source coordinates, decodes
 * only the source rows and columns that crop reads (handler/resample.ts), and resamples them
 * straight to the crop. Work and memory follow the crop, not the aspect ratio: an extreme aspect
 * ratio (1×9000, 40000×2) is classified like any other image, quickly, from the centre region
 * the manifest's preprocessing keeps — the same answer the reference pipeline gives
 * (reference/classify.py), so no ASPECT_RATIO error is needed.
 *
 * Decoding is strict: data that cannot fill the dimensions its header declares is CORRUPT_IMAGE
 * (see decodeStrictness). The decoded region always runs to the image's last row, so a stream cut
 * off below the crop is still noticed.
 */
export async function preprocess(
  input: Uint8Array,
  manifest: ModelManifest,
  maxPixels = DEFAULT_MAX_PIXELS,
): Promise<{ tensor: ort.Tensor; image: ClassifyResult["image"] }> {
  if (input.byteLength === 0) throw new ImageInputError("EMPTY_OBJECT", "the file is empty (0 bytes)");
  let meta: Metadata;
  try {
    // header only: no pixel is decoded here, so the pixel limit is checked by us below
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    const magic = rasterMagic(input);
    if (magic) {
      // the bytes start like a JPEG/PNG/WebP/GIF whose header then cannot be read: cut off or damaged
      throw new ImageInputError("CORRUPT_IMAGE", `the ${magic} image's header could not be read: ${(err as Error).message}`, { cause: err });
    }
    throw new ImageInputError("NOT_AN_IMAGE", "the file is not an image in a format imgfn can read", { cause: err });
  }
  const format = meta.format ?? "unknown";
  if (!SUPPORTED_FORMATS.has(format) || !meta.width || !meta.height) {
    throw new ImageInputError(
      "UNSUPPORTED_FORMAT",
      `image format "${format}" is not supported (use one of: ${[...SUPPORTED_FORMATS].join(", ")})`,
    );
  }
  if (format === "heif" && meta.compression === "hevc") {
    // sharp's prebuilt libvips reads AVIF but has no HEVC decoder (patents): say so, not "corrupt"
    throw new ImageInputError("UNSUPPORTED_FORMAT", `HEIC (HEVC-compressed HEIF) images are not supported; convert to JPEG, PNG, WebP or AVIF`);
  }
  const pixels = meta.width * meta.height;
  if (pixels > maxPixels) {
    throw new ImageInputError(
      "IMAGE_TOO_LARGE",
      `image is ${meta.width}x${meta.height} (${(pixels / 1e6).toFixed(1)} MP), over the ${(maxPixels / 1e6).toFixed(1)} MP limit; it was not decoded`,
    );
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  const { resize, crop, filter, fidelity } = manifest.preprocess;
  const plan = planCrop(width, height, resize, crop);
  const shrunk = fidelity === "fast" ? shrinkOnLoadSize(format, width, height, resize) : undefined;
  const decodedSize = shrunk ?? { width, height };
  const resampler = cropResampler(plan, decodedSize.width, decodedSize.height, filter);
  const region = { ...resampler.region, height: decodedSize.height - resampler.region.top };
  let data: Buffer;
  let info: OutputInfo;
  try {
    ({ data, info } = await decodeRegion(input, maxPixels, region, shrunk));
  } catch (err) {
    throw new ImageInputError("CORRUPT_IMAGE", `the ${format} image could not be decoded: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (info.channels !== 3 || info.width !== region.width || info.height !== region.height) {
    throw new ImageInputError(
      "CORRUPT_IMAGE",
      `decoding gave an unexpected ${info.width}x${info.height}x${info.channels} region (expected ${region.width}x${region.height}x3)`,
    );
  }
  const tensor = toTensor(resampler.run(data), crop, manifest);
  return { tensor, image: { format, width, height } };
}

/**
 * Fidelity "fast": JPEG and WebP decode at a reduced size (libjpeg's DCT-domain shrink, libwebp's
 * scaling) down to no less than twice the resize target, and the crop is resampled from there.
 * Only worth it (and only applied) where the image is at least four times the target.
 */
export const FAST_SHRINK_GAP = 2;
function shrinkOnLoadSize(format: string, width: number, height: number, resize: number): { width: number; height: number } | undefined {
  if (format !== "jpeg" && format !== "webp") return undefined;
  const factor = Math.min(width, height) / (FAST_SHRINK_GAP * resize);
  if (factor < 2) return undefined;
  return { width: Math.max(1, Math.round(width / factor)), height: Math.max(1, Math.round(height / factor)) };
}

/**
 * Upright, first frame, alpha flattened on black, embedded ICC profile ignored (as Pillow does),
 * 8-bit sRGB (16-bit samples keep their high byte): only `region` of the (optionally shrunk) image.
 */
function decodeRegion(
  input: Uint8Array,
  maxPixels: number,
  region: SourceRegion,
  shrunk: { width: number; height: number } | undefined,
): Promise<{ data: Buffer; info: OutputInfo }> {
  const failOn = decodeStrictness(input);
  let image = sharp(input, { autoOrient: true, limitInputPixels: maxPixels, failOn, pages: 1 });
  if (shrunk) {
    image = image.resize({ width: shrunk.width, height: shrunk.height, fit: "fill", kernel: "linear", fastShrinkOnLoad: true });
  }
  return image
    .extract(region)
    .flatten({ background: ALPHA_BACKGROUND })
    .keepIccProfile()
    .toColourspace("srgb")
    .removeAlpha()
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
}

/**
 * libjpeg reports scan data that runs out before the declared size (a 64×64 scan under a 7000×7000
 * header) only as a warning ("Corrupt JPEG data: premature end of data segment") and fills the
 * rest with grey, so JPEGs decode with failOn "warning" (trailing bytes after the image still
 * pass). Other formats use "truncated": libpng also warns about harmless metadata (an sRGB
 * profile it knows is slightly off), which must not refuse a good photo.
 */
function decodeStrictness(input: Uint8Array): "warning" | "truncated" {
  return rasterMagic(input) === "JPEG" ? "warning" : "truncated";
}

/** The raster formats recognised from their first bytes, without libvips. */
function rasterMagic(b: Uint8Array): "JPEG" | "PNG" | "WebP" | "GIF" | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "JPEG";
  if (b.length >= 4 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "PNG";
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50) return "WebP";
  if (b.length >= 3 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return "GIF";
  return undefined;
}

/** Transparent pixels are composited over black (colour × alpha), as reference/classify.py does. */
export const ALPHA_BACKGROUND = "#000000";

/** Normalise + transpose the crop (HWC uint8) in one pass. */
export function toTensor(hwc: Uint8Array, crop: number, manifest: ModelManifest): ort.Tensor {
  const { scale, mean, std, channelOrder, layout } = manifest.preprocess;
  const plane = crop * crop;
  const out = new Float32Array(3 * plane);
  // value = (pixel * scale - mean) / std = pixel * a + b, per channel
  const a = [0, 1, 2].map((c) => scale / std[c]);
  const b = [0, 1, 2].map((c) => -mean[c] / std[c]);
  const order = channelOrder === "RGB" ? [0, 1, 2] : [2, 1, 0];
  const [a0, a1, a2] = order.map((c) => a[c]);
  const [b0, b1, b2] = order.map((c) => b[c]);
  const [s0, s1, s2] = order; // source channel for output channel 0, 1, 2
  for (let y = 0; y < crop; y++) {
    let src = y * crop * 3;
    const row = y * crop;
    if (layout === "NCHW") {
      for (let x = 0; x < crop; x++, src += 3) {
        const i = row + x;
        out[i] = hwc[src + s0] * a0 + b0;
        out[plane + i] = hwc[src + s1] * a1 + b1;
        out[2 * plane + i] = hwc[src + s2] * a2 + b2;
      }
    } else {
      for (let x = 0; x < crop; x++, src += 3) {
        const i = (row + x) * 3;
        out[i] = hwc[src + s0] * a0 + b0;
        out[i + 1] = hwc[src + s1] * a1 + b1;
        out[i + 2] = hwc[src + s2] * a2 + b2;
      }
    }
  }
  const dims = layout === "NCHW" ? [1, 3, crop, crop] : [1, crop, crop, 3];
  return new ort.Tensor("float32", out, dims);
}

export function softmax(logits: ArrayLike<number>): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const out = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

export function topK(scores: ArrayLike<number>, labels: string[], k: number): Prediction[] {
  const best: Prediction[] = [];
  for (let index = 0; index < scores.length; index++) {
    const score = scores[index];
    if (best.length === k && score <= best[k - 1].score) continue;
    const entry = { label: labels[index] ?? `class ${index}`, index, score };
    let pos = best.length;
    while (pos > 0 && best[pos - 1].score < score) pos--;
    best.splice(pos, 0, entry);
    if (best.length > k) best.pop();
  }
  return best.map((p) => ({ ...p, score: Math.round(p.score * 1e6) / 1e6 }));
}
