// The golden check end to end on the local pipeline: `imgfn golden make`, then `imgfn demo
// --golden` uploads the golden images through local S3, the trigger and the function's workers,
// and compares the result objects with the golden file.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bgrManifest, goldenFolder } from "../helpers/golden.js";
import { imgfn, isGone } from "./helpers.js";

describe("imgfn demo --golden", () => {
  it("passes through the local pipeline with a golden set made by the function, and leaves nothing running", async () => {
    const { dir, images } = await goldenFolder();
    const made = await imgfn(["golden", "make", ...images, "--output", "golden.json"], dir);
    expect(made.exitCode, made.stderr).toBe(0);
    const res = await imgfn(["demo", "--golden", "golden.json", "--json"], dir);
    expect(res.exitCode, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(out.golden).toMatchObject({ files: 2, passed: true, top1Agreement: 1, maxDeltaP: 0 });
    expect(out.golden.model.actual.sha256).toBe(JSON.parse(await readFile(join(dir, "golden.json"), "utf8")).model.sha256);
    expect(out.results.map((r: any) => r.status)).toEqual(["classified", "classified"]);
    expect(out.workerPids.every(isGone)).toBe(true);
  });

  it("a different preprocessing in the function fails it (exit 1) with the table of moved files", async () => {
    const { dir, images } = await goldenFolder();
    await imgfn(["golden", "make", ...images, "--output", "golden.json"], dir);
    const res = await imgfn(["demo", "--golden", "golden.json", "--model", await bgrManifest(dir)], dir);
    expect(res.exitCode).toBe(1);
    expect(res.stdout).toMatch(/golden check: top-1 agreement/);
    expect(res.stdout).toMatch(/espresso\.jpg\s+espresso \(\d+\.\d%\)\s+\S.*top-1 changed/);
    expect(res.stderr).toMatch(/golden check failed/);
    expect(res.stderr).toContain("Stopping the local stack: no processes left running");
  });
});
