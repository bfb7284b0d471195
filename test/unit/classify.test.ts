import { afterAll, beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { Classifier, ImageInputError, softmax, topK } from "../../handler/classify.js";
import { loadModel } from "../../src/model/spec.js";
import * as img from "../helpers/images.js";

let classifier: Classifier;

beforeAll(async () => {
  const spec = await loadModel();
  classifier = await Classifier.load({ manifest: spec.manifest, model: spec.weights.path, labels: spec.labels });
});
afterAll(() => classifier?.release());

async function top1(bytes: Uint8Array) {
  const r = await classifier.classify(bytes, { topK: 5 });
  return r.predictions[0];
}

describe("classification with the real model on real photos", () => {
  it("the sample cat's top-1 is a cat class", async () => {
    const p = await top1(img.catJpeg());
    expect(img.CAT_CLASSES.has(p.index), `${p.label} (${p.index})`).toBe(true);
  });

  it("the espresso photo's top-1 is espresso", async () => {
    const r = await classifier.classify(img.espressoJpeg());
    expect(r.predictions[0].label).toBe("espresso");
    expect(r.predictions[0].index).toBe(967);
    expect(r.predictions).toHaveLength(5);
    expect(r.image).toEqual({ format: "jpeg", width: 600, height: 400 });
  });

  it.each([
    ["greyscale PNG", img.catGreyscalePng],
    ["RGBA PNG", img.catRgbaPng],
    ["16-bit PNG", img.cat16BitPng],
    ["EXIF-rotated JPEG", img.catExifRotatedJpeg],
    ["WebP", img.catWebp],
    ["CMYK JPEG", () => sharp(img.catJpeg()).toColourspace("cmyk").jpeg().toBuffer()],
    ["TIFF", () => sharp(img.catJpeg()).tiff().toBuffer()],
    ["AVIF", () => sharp(img.catJpeg()).avif({ effort: 0 }).toBuffer()],
  ])("a %s of the cat is still a cat", async (_name, make) => {
    const p = await top1(await make());
    expect(img.CAT_CLASSES.has(p.index), `${p.label} (${p.index})`).toBe(true);
  });

  it("EXIF orientation is applied: the reported size is the upright one", async () => {
    const r = await classifier.classify(await img.catExifRotatedJpeg());
    expect(r.image.width).toBe(451);
    expect(r.image.height).toBe(300);
  });

  it("the rotated pixels without EXIF are classified differently from upright (orientation matters)", async () => {
    const upright = await classifier.classify(img.catJpeg(), { topK: 1000 });
    const sideways = await classifier.classify(await sharp(img.catJpeg()).rotate(90).toBuffer(), { topK: 1000 });
    const score = (r: typeof upright) => r.predictions.find((p) => p.index === 285)!.score;
    expect(score(sideways)).not.toBeCloseTo(score(upright), 3);
  });

  it("scores are probabilities that sum to 1 across all classes, best first", async () => {
    const r = await classifier.classify(img.catJpeg(), { topK: 1000 });
    const sum = r.predictions.reduce((s, p) => s + p.score, 0);
    expect(sum).toBeCloseTo(1, 2);
    for (let i = 1; i < r.predictions.length; i++) expect(r.predictions[i - 1].score).toBeGreaterThanOrEqual(r.predictions[i].score);
  });

  it("a tiny image (smaller than the crop) is upscaled and classified", async () => {
    const tiny = await sharp(img.catJpeg()).resize(40, 27).png().toBuffer();
    const r = await classifier.classify(tiny);
    expect(r.predictions).toHaveLength(5);
  });

  it("an animated GIF uses its first frame", async () => {
    const frame = await sharp(img.catJpeg()).resize(224, 149).raw().toBuffer({ resolveWithObject: true });
    const black = Buffer.alloc(frame.data.length);
    const gif = await sharp(Buffer.concat([frame.data, black]), {
      raw: { width: frame.info.width, height: frame.info.height * 2, channels: 3, pageHeight: frame.info.height },
    } as any)
      .gif()
      .toBuffer();
    const p = await top1(gif);
    expect(img.CAT_CLASSES.has(p.index), `${p.label} (${p.index})`).toBe(true);
  });
});

describe("bad input gets a coded ImageInputError, never a crash", () => {
  const cases: [string, () => Promise<Uint8Array> | Uint8Array, string][] = [
    ["an empty file", () => new Uint8Array(0), "EMPTY_OBJECT"],
    ["a text file", () => Buffer.from("hello, this is not an image\n".repeat(20)), "NOT_AN_IMAGE"],
    ["a truncated JPEG", img.truncatedJpeg, "CORRUPT_IMAGE"],
    ["an SVG (a format imgfn refuses)", () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'), "UNSUPPORTED_FORMAT"],
    ["a 400 MP PNG bomb", () => img.pngBomb(), "IMAGE_TOO_LARGE"],
  ];
  it.each(cases)("%s → %s", async (_name, make, code) => {
    const err = await classifier.classify(await make()).catch((e) => e);
    expect(err).toBeInstanceOf(ImageInputError);
    expect(err.code).toBe(code);
    expect(err.message.length).toBeGreaterThan(10);
  });

  it("the pixel limit is configurable", async () => {
    const err = await classifier.classify(img.catJpeg(), { maxPixels: 100_000 }).catch((e) => e);
    expect(err.code).toBe("IMAGE_TOO_LARGE");
    expect(err.message).toMatch(/451x300/);
  });
});

describe("softmax and top-k", () => {
  it("softmax is stable for large logits", () => {
    const p = softmax([1000, 1000, 0]);
    expect(p[0]).toBeCloseTo(0.5, 6);
    expect(p[2]).toBeCloseTo(0, 6);
  });
  it("top-k keeps the k best in order, with labels and indices", () => {
    expect(topK([0.1, 0.5, 0.2, 0.9, 0.3], ["a", "b", "c", "d", "e"], 3)).toEqual([
      { label: "d", index: 3, score: 0.9 },
      { label: "b", index: 1, score: 0.5 },
      { label: "e", index: 4, score: 0.3 },
    ]);
  });
});
