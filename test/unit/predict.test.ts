import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { CAT_CLASSES, SAMPLES } from "../helpers/images.js";

const cat = join(SAMPLES, "cat.jpg");
const espresso = join(SAMPLES, "espresso.jpg");

describe("imgfn predict", () => {
  it("prints an aligned top-k table per file and exits 0", async () => {
    const r = await runCli(["predict", cat, espresso, "--top", "3"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toContain("cat.jpg");
    expect(lines[0]).toMatch(/451x300 jpeg/);
    expect(lines[1]).toMatch(/^\s+1\.\s+\d+\.\d%\s+(Egyptian cat|tabby, tabby cat|tiger cat)/);
    expect(lines).toHaveLength(8); // 2 × (header + 3 predictions)
    expect(lines[4]).toContain("espresso.jpg");
    expect(lines[5]).toMatch(/1\.\s+\d+\.\d%\s+espresso\s/);
  });

  it("--json prints one array with labels, indices, scores and timings", async () => {
    const r = await runCli(["predict", cat, "--json"]);
    expect(r.code).toBe(0);
    const [doc] = JSON.parse(r.stdout);
    expect(doc.file).toBe(cat);
    expect(doc.predictions).toHaveLength(5);
    expect(CAT_CLASSES.has(doc.predictions[0].index)).toBe(true);
    expect(Object.keys(doc.timings).sort()).toEqual(["inference", "preprocess", "read"]);
  });

  it("a bad file gets an error entry, the others still classify, and the exit code is 1", async () => {
    const dir = await mkdtemp(join(tmpdir(), "imgfn-predict-"));
    await writeFile(join(dir, "notes.jpg"), "not an image at all");
    const r = await runCli(["predict", join(dir, "notes.jpg"), join(dir, "missing.png"), cat, "--json"]);
    expect(r.code).toBe(1);
    const docs = JSON.parse(r.stdout);
    expect(docs.map((d: any) => d.error?.code ?? "ok")).toEqual(["NOT_AN_IMAGE", "FILE_NOT_FOUND", "ok"]);
    expect(r.stderr).toMatch(/2 of 3 files could not be classified/);
  });

  it("bad flags are usage errors (exit 2) with a clear message", async () => {
    const r = await runCli(["predict", cat, "--top", "zero"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--top must be a positive integer/);
    const none = await runCli(["predict"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/pass image files to classify, or --golden <file>/);
  });

  it("a bare .onnx without --labels says what to add", async () => {
    const r = await runCli(["predict", cat, "--model", join(tmpdir(), "whatever.onnx")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/add --labels/);
  });

  it("when the weights cannot be found, the error says how to provide them", async () => {
    const env = { ...process.env, IMGFN_MODEL_MIRROR: "", XDG_CACHE_HOME: await mkdtemp(join(tmpdir(), "imgfn-empty-")) };
    const dir = await mkdtemp(join(tmpdir(), "imgfn-manifest-"));
    const manifest = JSON.parse((await import("node:fs")).readFileSync(join(SAMPLES, "..", "model", "model.json"), "utf8"));
    await writeFile(join(dir, "model.json"), JSON.stringify({ ...manifest, urls: ["http://127.0.0.1:9/m.onnx"], labels: join(SAMPLES, "..", "model", "labels.json") }));
    const r = await runCli(["predict", cat, "--model", join(dir, "model.json")], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: model weights "mobilenetv2-12-int8.onnx" .* are not available/);
    expect(r.stderr).toMatch(/next step: .*IMGFN_MODEL_MIRROR/);
  });

  it("--help lists every command with a one-line description", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/predict \[files\.\.\.\]\s+Classify local image files/);
    expect(r.stdout).toMatch(/deploy\s+Build the image/);
    const sub = await runCli(["predict", "--help"]);
    expect(sub.stdout).toMatch(/--top <n>/);
    expect(r.stdout).toMatch(/model\s+Inspect and fetch/);
  });
});

describe("imgfn model", () => {
  it("info prints the manifest and where the weights resolve from", async () => {
    const r = await runCli(["model", "info", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.manifest.id).toBe("mobilenetv2-12-int8");
    expect(doc.labels).toBe(1000);
    expect(["cache", "mirror"]).toContain(doc.weights.source);
  });

  it("fetch puts the weights in the user cache", async () => {
    const cache = await mkdtemp(join(tmpdir(), "imgfn-cache-"));
    const r = await runCli(["model", "fetch", "--json"], { env: { ...process.env, XDG_CACHE_HOME: cache } });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.path.startsWith(join(cache, "imgfn", "models"))).toBe(true);
    const again = JSON.parse((await runCli(["model", "fetch", "--json"], { env: { ...process.env, XDG_CACHE_HOME: cache } })).stdout);
    expect(again.source).toBe("cache");
  });
});
