/** The function's configuration, read once from its environment (set by deploy and by the emulator). */
import { join } from "node:path";
import type { KeyRules } from "./keys.js";

// The defaults live here, in a module with no native imports: src/config.ts reads them, and
// importing them from classify.ts would load onnxruntime-node and sharp in every command.
// Every format classify.ts decodes (jpeg, png, webp, gif, tiff, avif), in lower and upper case:
// S3's suffix filters are case-sensitive, and a camera's IMG_0001.JPG must trigger too.
const IMAGE_SUFFIXES = [".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".avif"];
export const DEFAULT_SUFFIXES = [...IMAGE_SUFFIXES, ...IMAGE_SUFFIXES.map((s) => s.toUpperCase())];
export const DEFAULT_MAX_PIXELS = 50_000_000;
export const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;

export interface Settings extends KeyRules {
  /** The only bucket whose records are processed (IMGFN_BUCKET); unset: any bucket. */
  bucket?: string;
  maxBytes: number;
  maxPixels: number;
  topK: number;
  threads: number;
  manifestPath: string;
  forcePathStyle: boolean;
  preload: boolean;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

export function readSettings(env: NodeJS.ProcessEnv): Settings {
  const taskRoot = env.LAMBDA_TASK_ROOT ?? process.cwd();
  return {
    bucket: env.IMGFN_BUCKET || undefined,
    inputPrefix: env.IMGFN_INPUT_PREFIX ?? "uploads/",
    outputPrefix: env.IMGFN_OUTPUT_PREFIX ?? "results/",
    suffixes:
      env.IMGFN_SUFFIXES === undefined
        ? DEFAULT_SUFFIXES
        : env.IMGFN_SUFFIXES.split(",").map((s) => s.trim()).filter(Boolean),
    maxBytes: positiveInt(env, "IMGFN_MAX_BYTES", DEFAULT_MAX_BYTES),
    maxPixels: positiveInt(env, "IMGFN_MAX_PIXELS", DEFAULT_MAX_PIXELS),
    topK: positiveInt(env, "IMGFN_TOP_K", 5),
    threads: positiveInt(env, "IMGFN_THREADS", 1),
    manifestPath: env.IMGFN_MODEL_MANIFEST ?? join(taskRoot, "model", "model.json"),
    forcePathStyle: env.IMGFN_S3_FORCE_PATH_STYLE === "1" || env.IMGFN_S3_FORCE_PATH_STYLE === "true",
    preload: env.IMGFN_PRELOAD !== "0",
  };
}
