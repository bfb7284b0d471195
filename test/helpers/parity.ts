/**
 * The parity corpus: the committed samples and fixtures, plus photos made from them at the sizes
 * and in the encodings a user's uploads come in (12 MP and 0.5 MP JPEG, greyscale, RGBA with an
 * alpha ramp, 16-bit, EXIF-rotated, WebP, palette with transparency, GIF, extreme aspect ratios).
 * Used by the parity test and by the benchmarks.
 */
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";
import { packageRoot } from "../../src/paths.js";
import * as img from "./images.js";

// from packageRoot(), not this file's folder: the benchmarks bundle this module elsewhere
const FIXTURES = join(packageRoot(), "test", "fixtures", "photos");

export const PARITY_CORPUS: [name: string, make: () => Promise<Buffer> | Buffer][] = [
  ["cat.jpg", img.catJpeg],
  ["espresso.jpg", img.espressoJpeg],
  ["chelsea.png", () => readFileSync(join(FIXTURES, "chelsea.png"))],
  ["coffee.png", () => readFileSync(join(FIXTURES, "coffee.png"))],
  ["cat-12mp.jpg", () => sharp(img.catJpeg()).resize(4000, 3000).jpeg({ quality: 90 }).toBuffer()],
  ["espresso-12mp-portrait.jpg", () => sharp(img.espressoJpeg()).resize(3000, 4000).jpeg({ quality: 85 }).toBuffer()],
  ["chelsea-12mp.jpg", () => sharp(readFileSync(join(FIXTURES, "chelsea.png"))).resize(4000, 3000).jpeg({ quality: 90 }).toBuffer()],
  ["cat-0.5mp.jpg", () => sharp(img.catJpeg()).resize(866, 577).jpeg({ quality: 90 }).toBuffer()],
  ["coffee-0.5mp-420.jpg", () => sharp(readFileSync(join(FIXTURES, "coffee.png"))).resize(866, 577).jpeg({ quality: 75, chromaSubsampling: "4:2:0" }).toBuffer()],
  ["coffee-0.5mp-444.jpg", () => sharp(readFileSync(join(FIXTURES, "coffee.png"))).resize(866, 577).jpeg({ quality: 95, chromaSubsampling: "4:4:4" }).toBuffer()],
  ["cat-greyscale.png", img.catGreyscalePng],
  ["espresso-greyscale.jpg", () => sharp(img.espressoJpeg()).greyscale().jpeg().toBuffer()],
  ["cat-rgba.png", img.catRgbaPng],
  ["cat-alpha-ramp.png", img.catAlphaRampPng],
  ["cat-palette-transparent.png", () => sharp(img.catJpeg()).ensureAlpha(0.5).png({ palette: true }).toBuffer()],
  ["cat-16bit.png", img.cat16BitPng],
  ["espresso-grey16.png", () => sharp(img.espressoJpeg()).greyscale().toColourspace("grey16").png().toBuffer()],
  ["cat-exif-rotated.jpg", img.catExifRotatedJpeg],
  ["cat.webp", img.catWebp],
  ["cat.gif", () => sharp(img.catJpeg()).gif().toBuffer()],
  ["cat-tiny.png", () => sharp(img.catJpeg()).resize(40, 27).png().toBuffer()],
  // Narrow strips the reference can still resize whole (a 1×9000 strip would make Pillow allocate
  // 256×2,304,000 pixels: the cost imgfn's crop-only resampling avoids)
  ["strip-3x600.png", () => img.extremeAspect(3, 600, "png")],
  ["strip-1200x5.jpg", () => img.extremeAspect(1200, 5, "jpeg")],
];

/** Writes the corpus into `dir`; returns the file paths in corpus order. */
export async function writeParityCorpus(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const [name, make] of PARITY_CORPUS) {
    const path = join(dir, name);
    await writeFile(path, await make());
    files.push(path);
  }
  return files;
}

export interface TensorDiff {
  max: number;
  mean: number;
}
export function tensorDiff(a: Float32Array, b: Float32Array): TensorDiff {
  if (a.length !== b.length) throw new Error(`tensor sizes differ: ${a.length} vs ${b.length}`);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.length };
}
