/** Golden-set fixtures: a folder with copies of the samples, and a manifest that reads BGR. */
import { copyFile, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SAMPLES } from "./images.js";

export async function goldenFolder(): Promise<{ dir: string; images: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), "imgfn-golden-"));
  const images = [join(dir, "cat.jpg"), join(dir, "espresso.jpg")];
  await copyFile(join(SAMPLES, "cat.jpg"), images[0]);
  await copyFile(join(SAMPLES, "espresso.jpg"), images[1]);
  return { dir, images };
}

/** The bundled model with a deliberately different preprocessing (channels swapped). */
export async function bgrManifest(dir: string): Promise<string> {
  const modelDir = join(import.meta.dirname, "..", "..", "model");
  const manifest = JSON.parse(await readFile(join(modelDir, "model.json"), "utf8"));
  manifest.preprocess.channelOrder = "BGR";
  manifest.labels = join(modelDir, "labels.json");
  const path = join(dir, "bgr.json");
  await writeFile(path, JSON.stringify(manifest));
  return path;
}
