/**
 * Shared by the benchmark parts: where things live, the benchmark images, the staged function,
 * statistics and the part-result file each part writes for bench/run.mjs to collect.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { stageFunction } from "../../src/image/stage.js";
import { loadModel } from "../../src/model/spec.js";
import { packageRoot } from "../../src/paths.js";

export const ROOT = packageRoot();
export const WORK = join(ROOT, "bench", ".work");
export const IMAGES = join(WORK, "images");
export const TASK = join(WORK, "task");
export const OUT = join(WORK, "out");

export interface BenchImage {
  id: string;
  file: string;
  description: string;
  width: number;
  height: number;
  bytes: number;
}

/**
 * The four images of item 1. The 0.5 MP and 12 MP JPEGs are the cat sample upscaled with sharp
 * (quality 90, as a phone would write it); the greyscale PNG is the espresso sample in one channel.
 */
export async function prepareImages(): Promise<BenchImage[]> {
  await mkdir(IMAGES, { recursive: true });
  const cat = readFileSync(join(ROOT, "samples", "cat.jpg"));
  const espresso = readFileSync(join(ROOT, "samples", "espresso.jpg"));
  const makers: [string, string, () => Promise<Buffer>][] = [
    ["cat-png", "cat.png: samples/cat.jpg re-encoded as PNG (small)", () => sharp(cat).png().toBuffer()],
    ["jpeg-0.5mp", "0.5 MP JPEG (866×577, q90, cat upscaled)", () => sharp(cat).resize(866, 577, { fit: "fill" }).jpeg({ quality: 90 }).toBuffer()],
    ["jpeg-12mp", "12 MP JPEG (4000×3000, q90, cat upscaled)", () => sharp(cat).resize(4000, 3000, { fit: "fill" }).jpeg({ quality: 90 }).toBuffer()],
    ["grey-png", "greyscale PNG (espresso, 600×400, 1 channel)", () => sharp(espresso).greyscale().toColourspace("b-w").png().toBuffer()],
  ];
  const out: BenchImage[] = [];
  for (const [id, description, make] of makers) {
    const ext = id.includes("png") ? "png" : "jpg";
    const file = join(IMAGES, `${id}.${ext}`);
    if (!existsSync(file)) await writeFile(file, await make());
    const meta = await sharp(file).metadata();
    out.push({ id, file, description, width: meta.width!, height: meta.height!, bytes: readFileSync(file).length });
  }
  return out;
}

export async function readImages(): Promise<BenchImage[]> {
  return JSON.parse(readFileSync(join(WORK, "images.json"), "utf8"));
}

/** The task root exactly as in the image (bundle + model), node_modules linked to the host's. */
export async function stageTask(): Promise<string> {
  const spec = await loadModel();
  return (await stageFunction(spec, TASK, { linkNodeModules: true })).dir;
}

export function median(xs: number[]): number {
  return quantile(xs, 0.5);
}
export function p95(xs: number[]): number {
  return quantile(xs, 0.95);
}
/** Nearest-rank quantile (no interpolation), so every figure is a measured value. */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
export const r2 = (v: number) => Math.round(v * 100) / 100;
export const r1 = (v: number) => Math.round(v * 10) / 10;
export const stats = (xs: number[]) => ({ median: r2(median(xs)), p95: r2(p95(xs)), n: xs.length });

export async function writePart(name: string, data: unknown): Promise<void> {
  await mkdir(OUT, { recursive: true });
  await writeFile(join(OUT, `${name}.json`), JSON.stringify(data, null, 2) + "\n");
}

export function log(msg: string): void {
  process.stderr.write(`  ${msg}\n`);
}

/** Runs `node script args` and returns the last JSON line it printed on stdout. */
export function runNode(script: string, args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string } = {}): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env, cwd: opts.cwd ?? ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      const line = out.trim().split("\n").filter((l) => l.startsWith("{")).pop();
      if (code !== 0 || !line) return reject(new Error(`${script} ${args.join(" ")} exited ${code}: ${err.slice(-2000)}`));
      resolve(JSON.parse(line));
    });
  });
}

/** Environment for child processes: no SDK end-of-support banner in the timings' stderr. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: "1", NODE_NO_WARNINGS: "1", ...extra };
}
