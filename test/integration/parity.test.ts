/**
 * Parity with the reference pipeline (reference/classify.py: Pillow + NumPy + onnxruntime, the
 * manifest's torchvision-style preprocessing): on the parity corpus, imgfn's input tensor, its
 * top-1 class and its top-1 probability must match the reference's.
 *
 * Stated tolerance (fidelity "exact", the default): max |Δ| ≤ 1e-5 and mean |Δ| ≤ 1e-6 per tensor
 * after normalisation (the 8-bit pixels are identical; float32 normalisation order is all that may
 * differ), top-1 agreement ≥ 99%, mean |Δp(top-1)| ≤ 0.01, max ≤ 0.03.
 */
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { preprocess } from "../../handler/classify.js";
import { loadModel } from "../../src/model/spec.js";
import { runCli } from "../helpers/cli.js";
import { tensorDiff, writeParityCorpus } from "../helpers/parity.js";
import { referencePython, runReference, type PythonEnv } from "../helpers/python.js";

const env: PythonEnv = await referencePython();
const skip = "skip" in env ? env.skip : undefined;

let files: string[];
let tensors: string;
let reference: any[];
let imgfn: any[];

describe.skipIf(skip)(`parity with reference/classify.py${skip ? ` (skipped: ${skip})` : ""}`, () => {
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), "imgfn-parity-"));
    files = await writeParityCorpus(join(dir, "corpus"));
    tensors = join(dir, "tensors");
    const python = (env as { python: string }).python;
    const ref = await runReference(python, ["--json", "--top", "5", "--tensor-dir", tensors, ...files]);
    reference = JSON.parse(ref.stdout);
    const ours = await runCli(["predict", "--json", ...files]);
    expect(ours.code, ours.stderr).toBe(0);
    imgfn = JSON.parse(ours.stdout);
  }, 180_000);

  it("prints the same JSON shape as `imgfn predict --json`", () => {
    expect(reference).toHaveLength(files.length);
    for (const [i, r] of reference.entries()) {
      expect(Object.keys(r).sort()).toEqual(Object.keys(imgfn[i]).sort());
      expect(Object.keys(r.timings).sort()).toEqual(["inference", "preprocess", "read"]);
      expect(r.image, basename(files[i])).toEqual(imgfn[i].image);
      expect(r.predictions).toHaveLength(5);
    }
  });

  it("the input tensors match within the stated tolerance on every file", async () => {
    const { manifest } = await loadModel();
    const rows: string[] = [];
    for (const [i, file] of files.entries()) {
      const ours = (await preprocess(await readFile(file), manifest)).tensor.data as Float32Array;
      const bytes = await readFile(join(tensors, `${i}.f32`));
      const theirs = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      const d = tensorDiff(ours, theirs);
      if (!(d.max <= 1e-5 && d.mean <= 1e-6)) rows.push(`${basename(file)}: max ${d.max}, mean ${d.mean}`);
    }
    expect(rows, rows.join("\n")).toEqual([]);
  });

  it("top-1 agrees on ≥ 99% of the corpus, mean |Δp(top-1)| ≤ 0.01 and max ≤ 0.03", () => {
    const deltas: number[] = [];
    let agree = 0;
    for (const [i, r] of reference.entries()) {
      const ours = imgfn[i].predictions[0];
      const theirs = r.predictions[0];
      if (ours.index === theirs.index) agree++;
      deltas.push(Math.abs(ours.score - theirs.score));
    }
    expect(agree / reference.length).toBeGreaterThanOrEqual(0.99);
    expect(deltas.reduce((a, b) => a + b, 0) / deltas.length).toBeLessThanOrEqual(0.01);
    expect(Math.max(...deltas)).toBeLessThanOrEqual(0.03);
  });

  it("bad input gets the same error codes from both", async () => {
    const dir = await mkdtemp(join(tmpdir(), "imgfn-parity-bad-"));
    const { writeFile } = await import("node:fs/promises");
    await writeFile(join(dir, "empty.jpg"), "");
    const python = (env as { python: string }).python;
    const ref = await runReference(python, ["--json", join(dir, "empty.jpg"), join(dir, "missing.jpg")]).catch((e) => e);
    expect(ref.code).toBe(1); // failed files: exit 1, like imgfn predict
    expect(JSON.parse(ref.stdout).map((e: any) => e.error.code)).toEqual(["EMPTY_OBJECT", "FILE_NOT_FOUND"]);
  });
});
