// `imgfn demo`, the README's main command, as a user runs it: real stack, real model, then nothing
// left running, whether it succeeded or not.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imgfn, isGone } from "./helpers.js";

let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), "imgfn-e2e-demo-"));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe("imgfn demo", () => {
  it("classifies the sample cat with the cold start shown, then a warm image, and exits 0", async () => {
    const res = await imgfn(["demo"], cwd);
    expect(res.exitCode, res.stderr).toBe(0);
    const catRow = res.stdout.split("\n").find((l) => l.trim().startsWith("cat.jpg"));
    expect(catRow).toMatch(/cat \(\d+\.\d%\)\s+cold\s+\d+(\.\d+)? m?s/);
    expect(res.stdout).toMatch(/espresso\.jpg\s+espresso \(\d+\.\d%\)\s+warm/);
    expect(res.stdout).toMatch(/cold start: [\d.]+ m?s init/);
    expect(res.stderr).toContain("Stopping the local stack: no processes left running");
  });

  it("after a successful run no worker process remains (checked by PID) and --json has every result", async () => {
    const res = await imgfn(["demo", "--json"], cwd);
    expect(res.exitCode, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(out.results.map((r: any) => r.status)).toEqual(["classified", "classified"]);
    expect(out.workerPids.length).toBeGreaterThan(0);
    expect(out.workerPids.every(isGone)).toBe(true);
  });

  it("leaves no worker behind and exits 1 when an image does not classify", async () => {
    const broken = join(cwd, "broken.jpg");
    await writeFile(broken, "this is not a JPEG");
    const res = await imgfn(["demo", "--json", broken], cwd);
    expect(res.exitCode).toBe(1);
    const out = JSON.parse(res.stdout);
    expect(out.results[0]).toMatchObject({ key: "uploads/broken.jpg", status: "error" });
    expect(out.workerPids.length).toBeGreaterThan(0);
    expect(out.workerPids.every(isGone)).toBe(true);
    expect(res.stderr).toContain("1 of 1 image did not classify");
  });

  it("says a file the trigger does not match is not processed, instead of waiting for a result that never comes", async () => {
    // (every format the function decodes triggers by default; a bitmap does not)
    const bmp = join(cwd, "photo.bmp");
    await writeFile(bmp, "BM");
    const res = await imgfn(["demo", "--json", "--timeout", "30", bmp], cwd);
    expect(res.exitCode).toBe(1);
    const out = JSON.parse(res.stdout);
    expect(out.results[0]).toMatchObject({ key: "uploads/photo.bmp", status: "missing" });
    expect(out.results[0].error.message).toMatch(/^not processed: key does not end with one of \.jpg/);
    expect(res.stderr).toContain(`warning: photo.bmp: the trigger will not fire`);
    expect(res.stderr).toContain("1 of 1 image did not classify");
  });

  it("says which file is missing before starting anything", async () => {
    const res = await imgfn(["demo", "nope.jpg"], cwd);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toContain("no such file: nope.jpg");
  });
  it("survives a failed invocation with Lambda's default retry delays (128 MB, 1 s timeout, an image too big for them)", async () => {
    const project = await mkdtemp(join(tmpdir(), "imgfn-e2e-demo-small-"));
    try {
      await writeFile(join(project, "imgfn.config.json"), JSON.stringify({ memory: 128, timeout: 1 }));
      // 36 megapixels of noise: decoding it needs more than 128 MB (or more than 1 s), so the attempt fails
      const big = join(project, "big.jpg");
      await sharp({ create: { width: 6000, height: 6000, channels: 3, background: "#808080", noise: { type: "gaussian" as const, mean: 128, sigma: 60 } } }).jpeg().toFile(big);
      const res = await imgfn(["demo", "--json", "--timeout", "10", big], project);
      expect(res.stderr).not.toContain("TypeError");
      expect(res.exitCode, res.stderr).toBe(1);
      const out = JSON.parse(res.stdout);
      expect(out.results[0]).toMatchObject({ key: "uploads/big.jpg" });
      expect(out.results[0].status).not.toBe("classified");
      expect(res.stderr).toContain("1 of 1 image did not classify");
      expect(out.workerPids.length).toBeGreaterThan(0);
      expect(out.workerPids.every(isGone)).toBe(true);
    } finally {
      await rm(project, { recursive: true, force: true });
    }
  }, 180_000);
});
