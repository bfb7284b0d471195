/**
 * Bounded preprocessing: the crop is computed in source coordinates and only the source region
 * it reads is decoded and resampled. It must be the same tensor as resize-then-crop, and cost the
 * same for any aspect ratio.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { Classifier, ImageInputError, preprocess } from "../../handler/classify.js";
import type { ModelManifest } from "../../handler/manifest.js";
import { planCrop, resizeThenCrop } from "../../handler/resample.js";
import { loadModel } from "../../src/model/spec.js";
import { runCli } from "../helpers/cli.js";
import * as img from "../helpers/images.js";
import { peakRssGrowth } from "../helpers/memory.js";
import { tensorDiff } from "../helpers/parity.js";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

let manifest: ModelManifest;
let classifier: Classifier;
beforeAll(async () => {
  const spec = await loadModel();
  manifest = spec.manifest;
  classifier = await Classifier.load({ manifest, model: spec.weights.path, labels: spec.labels });
});
afterAll(() => classifier?.release());

const withFidelity = (fidelity: "exact" | "fast"): ModelManifest => ({ ...manifest, preprocess: { ...manifest.preprocess, fidelity } });

/** The long way: decode everything, resize the whole image, then crop (handler/resample.ts). */
async function resizedThenCropped(bytes: Uint8Array, m: ModelManifest): Promise<Float32Array> {
  const { data, info } = await sharp(bytes, { autoOrient: true })
    .flatten({ background: "#000000" })
    .keepIccProfile()
    .toColourspace("srgb")
    .removeAlpha()
    .raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  const { resize, crop, scale, mean, std, filter } = m.preprocess;
  const plan = planCrop(info.width, info.height, resize, crop);
  const hwc = resizeThenCrop(data, info.width, info.height, plan, filter);
  const out = new Float32Array(3 * crop * crop);
  for (let i = 0; i < crop * crop; i++) for (let c = 0; c < 3; c++) out[c * crop * crop + i] = (hwc[i * 3 + c] * scale - mean[c]) / std[c];
  return out;
}



const ordinaryPhotos: [string, () => Promise<Uint8Array> | Uint8Array][] = [
  ["the sample cat (451×300 JPEG)", img.catJpeg],
  ["the sample espresso (600×400 JPEG)", img.espressoJpeg],
  ["a 0.5 MP JPEG (866×577)", () => sharp(img.catJpeg()).resize(866, 577).jpeg({ quality: 90 }).toBuffer()],
  ["a portrait PNG (300×451)", () => sharp(img.catJpeg()).rotate(90).png().toBuffer()],
  ["an EXIF-rotated JPEG", img.catExifRotatedJpeg],
  ["a greyscale PNG", img.catGreyscalePng],
  ["an RGBA PNG", img.catRgbaPng],
];

describe("the crop computed in source coordinates equals resize-then-crop", () => {
  it.each(ordinaryPhotos)("%s: max and mean |Δ| after normalisation are float rounding only", async (_name, make) => {
    const bytes = await make();
    const { tensor } = await preprocess(bytes, withFidelity("exact"));
    const diff = tensorDiff(tensor.data as Float32Array, await resizedThenCropped(bytes, withFidelity("exact")));
    // the same 8-bit pixels; what is left is float32 vs float64 normalisation (1 ulp at ~2.6)
    expect(diff.max).toBeLessThan(1e-6);
    expect(diff.mean).toBeLessThan(1e-7);
  });

  it("every filter the manifest allows gives the same crop both ways", async () => {
    const bytes = await sharp(img.catJpeg()).resize(700, 480).png().toBuffer();
    for (const filter of ["bicubic", "lanczos", "box", "hamming"] as const) {
      const m = { ...manifest, preprocess: { ...manifest.preprocess, fidelity: "exact" as const, filter } };
      const { tensor } = await preprocess(bytes, m);
      expect(tensorDiff(tensor.data as Float32Array, await resizedThenCropped(bytes, m)).max, filter).toBeLessThan(1e-6);
    }
  });

  it("the plan follows torchvision: longer side truncated, crop offset rounded half to even", () => {
    expect(planCrop(4000, 3000, 256, 224)).toMatchObject({ resizedWidth: 341, resizedHeight: 256, left: 58, top: 16 });
    // (227 - 224) / 2 = 1.5 → 2; (225 - 224) / 2 = 0.5 → 0
    expect(planCrop(227, 256, 256, 224)).toMatchObject({ resizedWidth: 256, resizedHeight: 288, left: 16, top: 32 });
    expect(planCrop(1, 9000, 256, 224)).toMatchObject({ resizedWidth: 256, resizedHeight: 2_304_000, left: 16, top: 1_151_888 });
  });

  it("fidelity 'fast' (shrink-on-load for large JPEGs) stays close to 'exact' on a 12 MP photo", async () => {
    const bytes = await sharp(img.catJpeg()).resize(4000, 3000).jpeg({ quality: 90 }).toBuffer();
    const exact = (await preprocess(bytes, withFidelity("exact"))).tensor.data as Float32Array;
    const fast = (await preprocess(bytes, withFidelity("fast"))).tensor.data as Float32Array;
    const diff = tensorDiff(exact, fast);
    expect(diff.max).toBeGreaterThan(0); // it does take another path
    expect(diff.mean).toBeLessThan(0.05);
  });
});

describe("extreme aspect ratios are classified from the centre region, in bounded time and memory", () => {
  it.each(img.EXTREME_ASPECTS)("%s through the classifier: under 1 s and under 300 MB more resident memory", async (_name, w, h, format) => {
    const bytes = await img.extremeAspect(w, h, format);
    const { value: r, growth, ms } = await peakRssGrowth(() => classifier.classify(bytes));
    expect(r.predictions).toHaveLength(5);
    expect(r.image).toEqual({ format, width: w, height: h });
    expect(ms).toBeLessThan(1000);
    expect(growth).toBeLessThan(300 * 1024 * 1024);
  });

  it.each(img.EXTREME_ASPECTS)("%s through `imgfn predict --json`: one result, under 1 s and 300 MB", async (_name, w, h, format) => {
    const dir = await mkdtemp(join(tmpdir(), "imgfn-aspect-"));
    const file = join(dir, `strip.${format === "png" ? "png" : "jpg"}`);
    await writeFile(file, await img.extremeAspect(w, h, format));
    const { value: r, growth } = await peakRssGrowth(() => runCli(["predict", file, "--json"]));
    expect(r.code, r.stderr).toBe(0);
    const [doc] = JSON.parse(r.stdout);
    expect(doc.predictions).toHaveLength(5);
    // the image's own work, as predict reports it (the command's wall time also loads the model,
    // which is the same for every image and is not what the bound is about)
    expect(doc.timings.read + doc.timings.preprocess + doc.timings.inference).toBeLessThan(1000);
    expect(growth).toBeLessThan(300 * 1024 * 1024);
  });
});

describe("data that cannot fill the dimensions its header declares is CORRUPT_IMAGE", () => {
  const cases: [string, () => Promise<Uint8Array> | Uint8Array][] = [
    ["a JPEG whose header says 7000×7000 over a 64×64 scan", () => img.lyingJpeg(7000, 7000)],
    ["a JPEG cut off halfway", img.truncatedJpeg],
    ["a JPEG cut off in its last rows, below the crop", img.truncatedJpegTail],
    ["a PNG cut off at 90%", img.truncatedPng],
    ["a WebP cut off at 70%", img.truncatedWebp],
  ];
  it.each(cases)("%s", async (_name, make) => {
    for (const fidelity of ["exact", "fast"] as const) {
      const err = await preprocess(await make(), withFidelity(fidelity)).catch((e) => e);
      expect(err, fidelity).toBeInstanceOf(ImageInputError);
      expect(err.code, `${fidelity}: ${err.message}`).toBe("CORRUPT_IMAGE");
    }
  });

  it("trailing bytes after a complete JPEG are not corruption", async () => {
    const bytes = Buffer.concat([img.catJpeg(), Buffer.from("trailing bytes a camera or an editor left")]);
    const r = await classifier.classify(bytes);
    expect(img.CAT_CLASSES.has(r.predictions[0].index)).toBe(true);
  });
});
