import { createServer, type Server } from "node:http";
import { copyFile, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateManifest, type ModelManifest } from "../../handler/manifest.js";
import { ModelError } from "../../src/errors.js";
import { cachedWeightsPath, resolveWeights } from "../../src/model/resolve.js";
import { loadManifest, loadModel } from "../../src/model/spec.js";
import { defaultManifestPath } from "../../src/paths.js";

let manifest: ModelManifest;
let realWeights: string; // a verified copy, from wherever this machine gets it (mirror in CI)
let server: Server;
let baseUrl: string;
const served: Record<string, Buffer> = {};

beforeAll(async () => {
  manifest = await loadManifest(defaultManifestPath());
  realWeights = (await loadModel()).weights.path;
  served["/good.onnx"] = await readFile(realWeights);
  served["/bad.onnx"] = Buffer.from(served["/good.onnx"]).fill(7, 1000, 2000);
  server = createServer((req, res) => {
    const body = served[req.url!];
    if (!body) return res.writeHead(404).end();
    res.writeHead(200, { "content-length": body.length });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  baseUrl = `http://127.0.0.1:${(server.address() as any).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

const tmp = () => mkdtemp(join(tmpdir(), "imgfn-resolve-"));

describe("model weights resolver", () => {
  it("mirror hit: verified, copied into the cache, then a cache hit", async () => {
    const cache = await tmp();
    const mirror = await tmp();
    await copyFile(realWeights, join(mirror, manifest.file));
    const env = { XDG_CACHE_HOME: cache, IMGFN_MODEL_MIRROR: mirror };
    const first = await resolveWeights({ ...manifest, urls: [] }, { env });
    expect(first.source).toBe("mirror");
    expect(first.path).toBe(cachedWeightsPath(manifest, env));
    expect(first.path.startsWith(join(cache, "imgfn", "models", manifest.sha256!))).toBe(true);
    const second = await resolveWeights({ ...manifest, urls: [] }, { env: { XDG_CACHE_HOME: cache } });
    expect(second.source).toBe("cache");
    expect(second.sha256).toBe(manifest.sha256);
  });

  it("a mirror copy with the wrong checksum is refused, naming the file and both digests", async () => {
    const mirror = await tmp();
    await writeFile(join(mirror, manifest.file), served["/bad.onnx"]);
    const err = await resolveWeights(manifest, { env: { XDG_CACHE_HOME: await tmp(), IMGFN_MODEL_MIRROR: mirror }, offline: true }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err.message).toContain(join(mirror, manifest.file));
    expect(err.message).toContain(`expected sha256 ${manifest.sha256}`);
    expect(err.message).toMatch(/got [0-9a-f]{64}/);
  });

  it("a corrupt cache entry is discarded and replaced from the mirror", async () => {
    const cache = await tmp();
    const mirror = await tmp();
    await copyFile(realWeights, join(mirror, manifest.file));
    const env = { XDG_CACHE_HOME: cache, IMGFN_MODEL_MIRROR: mirror };
    await resolveWeights(manifest, { env });
    await writeFile(cachedWeightsPath(manifest, env), "garbage");
    const again = await resolveWeights(manifest, { env });
    expect(again.source).toBe("mirror");
    expect(again.sha256).toBe(manifest.sha256);
  });

  it("downloads from the manifest URLs (falling through a dead one) with progress, atomically", async () => {
    const cache = await tmp();
    const progress: number[] = [];
    const m = { ...manifest, urls: [`${baseUrl}/missing.onnx`, `${baseUrl}/good.onnx`] };
    const got = await resolveWeights(m, { env: { XDG_CACHE_HOME: cache }, onProgress: (r) => progress.push(r) });
    expect(got.source).toBe("download");
    expect(got.sha256).toBe(manifest.sha256);
    expect(progress.at(-1)).toBe(manifest.bytes);
    const dir = join(cache, "imgfn", "models", manifest.sha256!);
    expect(await readdir(dir)).toEqual([manifest.file]); // no temp file left behind
  });

  it("a download with the wrong checksum is refused and leaves nothing in the cache", async () => {
    const cache = await tmp();
    const err = await resolveWeights({ ...manifest, urls: [`${baseUrl}/bad.onnx`] }, { env: { XDG_CACHE_HOME: cache } }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err.message).toContain(`${baseUrl}/bad.onnx`);
    expect(await readdir(join(cache, "imgfn", "models", manifest.sha256!))).toEqual([]);
  });

  it("offline with no source: a clear error that says how to provide the file", async () => {
    const m = { ...manifest, urls: ["http://127.0.0.1:9/mobilenet.onnx"] }; // port 9: connection refused
    const err = await resolveWeights(m, { env: { XDG_CACHE_HOME: await tmp() } }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err.message).toMatch(/not available/);
    expect(err.message).toMatch(/IMGFN_MODEL_MIRROR is not set/);
    expect(err.message).toContain("http://127.0.0.1:9/mobilenet.onnx");
    expect(err.hint).toMatch(/IMGFN_MODEL_MIRROR/);
    expect(err.hint).toMatch(/--weights/);
  });

  // XDG_CACHE_HOME naming a file: the cache folder cannot be created, even by root (a read-only home)
  const unwritableCache = async () => {
    const file = join(await tmp(), "not-a-folder");
    await writeFile(file, "");
    return file;
  };

  it("a cache folder that cannot be written: the verified mirror copy is used in place", async () => {
    const mirror = await tmp();
    await copyFile(realWeights, join(mirror, manifest.file));
    const got = await resolveWeights({ ...manifest, urls: [] }, { env: { XDG_CACHE_HOME: await unwritableCache(), IMGFN_MODEL_MIRROR: mirror } });
    expect(got).toMatchObject({ source: "mirror", path: join(mirror, manifest.file), sha256: manifest.sha256 });
  });

  it("a cache folder that cannot be written: a download is refused naming the folder and how to choose another", async () => {
    const cache = await unwritableCache();
    const err = await resolveWeights({ ...manifest, urls: [`${baseUrl}/good.onnx`] }, { env: { XDG_CACHE_HOME: cache } }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect(err.message).toContain(join(cache, "imgfn", "models"));
    expect(err.message).toMatch(/cannot be written/);
    expect(err.hint).toMatch(/XDG_CACHE_HOME/);
  });

  it("an explicit path wins, and is checked too", async () => {
    const got = await resolveWeights(manifest, { explicitPath: realWeights, env: { XDG_CACHE_HOME: await tmp() } });
    expect(got.source).toBe("explicit");
    const dir = await tmp();
    await writeFile(join(dir, "x.onnx"), "nope");
    await expect(resolveWeights(manifest, { explicitPath: join(dir, "x.onnx") })).rejects.toThrow(/does not match/);
    await expect(resolveWeights(manifest, { explicitPath: join(dir, "missing.onnx") })).rejects.toThrow(/not found/);
  });
});

describe("bring-your-own model", () => {
  it("a bare .onnx with a one-label-per-line file builds a manifest from flags", async () => {
    const dir = await tmp();
    await copyFile(realWeights, join(dir, "my.onnx"));
    const labels = (await loadModel()).labels;
    await writeFile(join(dir, "labels.txt"), labels.join("\n") + "\n");
    const spec = await loadModel({ model: join(dir, "my.onnx"), labels: join(dir, "labels.txt"), preprocess: { crop: 224 } });
    expect(spec.manifest.id).toBe("my");
    expect(spec.manifest.sha256).toBe(manifest.sha256);
    expect(spec.manifest.preprocess.resize).toBe(256);
    expect(spec.labels).toHaveLength(1000);
    expect(spec.weights.source).toBe("explicit");
  });

  it("a bare .onnx without labels is a clear error", async () => {
    await expect(loadModel({ model: realWeights })).rejects.toThrow(/needs its class names: add --labels/);
  });

  it("a manifest of the same shape beside its weights resolves them in place", async () => {
    const dir = await tmp();
    await copyFile(realWeights, join(dir, manifest.file));
    await copyFile(join(defaultManifestPath(), "..", "labels.json"), join(dir, "labels.json"));
    await writeFile(join(dir, "model.json"), JSON.stringify({ ...manifest, id: "mine" }));
    const spec = await loadModel({ model: join(dir, "model.json") });
    expect(spec.manifest.id).toBe("mine");
    expect(spec.weights.path).toBe(join(dir, manifest.file));
  });
});

describe("manifest validation names the bad field", () => {
  const base = () => JSON.parse(JSON.stringify(manifest));
  it.each([
    [(m: any) => delete m.id, /"id" must be a non-empty string/],
    [(m: any) => (m.sha256 = "ABC"), /"sha256" must be 64 lower-case hex/],
    [(m: any) => (m.preprocess.crop = 300), /"preprocess.crop" must be a positive integer no larger than/],
    [(m: any) => (m.preprocess.mean = [1, 2]), /"preprocess.mean" must be 3 numbers/],
    [(m: any) => (m.preprocess.std = [1, 0, 1]), /"preprocess.std" must be 3 non-zero/],
    [(m: any) => (m.output.kind = "scores"), /"output.kind" must be "logits" or "probabilities"/],
    [(m: any) => (m.input.shape = [1, 3, 299, 299]), /spatial size 299 differs from "preprocess.crop" 224/],
  ])("%#", (mutate, message) => {
    const m = base();
    mutate(m);
    expect(() => validateManifest(m, "model.json")).toThrow(message);
  });
  it("the default manifest is valid and describes the shared model", () => {
    expect(manifest.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.output.kind).toBe("logits");
  });
});
