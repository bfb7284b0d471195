/**
 * The reference pipeline a user writes first: read the metadata, decode the whole image, resize
 * the decoded pixels so the shorter side is `resize`, crop the centre, then normalise in a JS loop
 * over (channel, y, x) with a division per value. Functionally the same preprocessing as the
 * manifest describes; what it lacks is shrink-on-load and the fused crop/normalise/transpose.
 */
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import type { ModelManifest } from "../../handler/manifest.js";

export async function naivePreprocess(input: Uint8Array, manifest: ModelManifest): Promise<ort.Tensor> {
  const { resize, crop, scale, mean, std } = manifest.preprocess;
  const meta = await sharp(input).metadata();
  if (!meta.width || !meta.height) throw new Error("not an image");
  // full decode, upright, 3-channel sRGB
  const full = await sharp(input, { pages: 1 })
    .rotate()
    .flatten({ background: "#ffffff" })
    .toColourspace("srgb")
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height, channels } = full.info;
  const k = resize / Math.min(width, height);
  const rw = Math.max(resize, Math.round(width * k));
  const rh = Math.max(resize, Math.round(height * k));
  const resized = await sharp(full.data, { raw: { width, height, channels } }).resize(rw, rh, { fit: "fill" }).raw().toBuffer();
  const cropped = await sharp(resized, { raw: { width: rw, height: rh, channels } })
    .extract({ left: Math.floor((rw - crop) / 2), top: Math.floor((rh - crop) / 2), width: crop, height: crop })
    .raw()
    .toBuffer();
  const data = new Float32Array(3 * crop * crop);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < crop; y++) {
      for (let x = 0; x < crop; x++) {
        const v = cropped[(y * crop + x) * channels + c] * scale;
        data[c * crop * crop + y * crop + x] = (v - mean[c]) / std[c];
      }
    }
  }
  return new ort.Tensor("float32", data, [1, 3, crop, crop]);
}

export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}
