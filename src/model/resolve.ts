/**
 * Finds a model's weights: explicit path → user cache (keyed by sha256) → mirror folder
 * (IMGFN_MODEL_MIRROR) → the manifest's URLs. Every source is checked against the sha256.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { copyFile, mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ModelManifest } from "../../handler/manifest.js";
import { ModelError } from "../errors.js";
import { cacheDir } from "../paths.js";

export type WeightsSource = "explicit" | "cache" | "mirror" | "download";

export interface ResolvedWeights {
  path: string;
  source: WeightsSource;
  sha256: string;
  bytes: number;
}

export interface ResolveOptions {
  /** A path given by the user (--weights); wins over everything else. */
  explicitPath?: string;
  env?: NodeJS.ProcessEnv;
  /** Called while downloading: bytes received, total bytes if known, the URL. */
  onProgress?: (received: number, total: number | undefined, url: string) => void;
  /** Do not try the network (e.g. `imgfn model info`). */
  offline?: boolean;
  fetchImpl?: typeof fetch;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

function checksumError(manifest: ModelManifest, path: string, actual: string, where: string): ModelError {
  return new ModelError(
    `${where} ${path} does not match the manifest of "${manifest.id}": expected sha256 ${manifest.sha256}, got ${actual}`,
    { hint: "the file is corrupt or a different model; delete it, or fix the manifest's sha256 if you changed the model on purpose" },
  );
}

/** The errors of a cache folder that cannot be created or written. */
function isUnwritable(err: unknown): boolean {
  return ["EACCES", "EPERM", "EROFS", "ENOTDIR", "ENOENT", "ENOSPC", "EEXIST"].includes((err as NodeJS.ErrnoException)?.code ?? "");
}

export function cachedWeightsPath(manifest: ModelManifest, env: NodeJS.ProcessEnv = process.env): string {
  if (!manifest.sha256) throw new ModelError(`model "${manifest.id}" has no sha256, so it cannot be cached`);
  return join(cacheDir(env), "models", manifest.sha256, manifest.file);
}

export async function resolveWeights(manifest: ModelManifest, opts: ResolveOptions = {}): Promise<ResolvedWeights> {
  const env = opts.env ?? process.env;
  const verify = async (path: string, source: WeightsSource): Promise<ResolvedWeights> => {
    const [sha256, info] = await Promise.all([sha256File(path), stat(path)]);
    if (manifest.sha256 && sha256 !== manifest.sha256) throw checksumError(manifest, path, sha256, source === "explicit" ? "the weights file" : `the ${source} copy`);
    return { path, source, sha256, bytes: info.size };
  };

  if (opts.explicitPath) {
    if (!(await exists(opts.explicitPath))) throw new ModelError(`model weights not found: ${opts.explicitPath}`);
    return verify(opts.explicitPath, "explicit");
  }
  if (!manifest.sha256) {
    throw new ModelError(`model "${manifest.id}" names no weights path and has no sha256 to look it up by`, {
      hint: "add \"sha256\" to the manifest, or pass the .onnx file with --model",
    });
  }
  const cached = cachedWeightsPath(manifest, env);
  if (await exists(cached)) {
    const hit = await sha256File(cached);
    if (hit === manifest.sha256) return { path: cached, source: "cache", sha256: hit, bytes: (await stat(cached)).size };
    await rm(cached, { force: true }); // a corrupt cache entry is replaced, not trusted
  }

  const mirror = env.IMGFN_MODEL_MIRROR;
  if (mirror) {
    const candidate = join(mirror, manifest.file);
    if (await exists(candidate)) {
      const resolved = await verify(candidate, "mirror");
      try {
        await mkdir(join(cached, ".."), { recursive: true });
        const tmp = `${cached}.${randomBytes(4).toString("hex")}.tmp`;
        await copyFile(candidate, tmp);
        await rename(tmp, cached);
        return { ...resolved, path: cached, source: "mirror" };
      } catch (err) {
        // a read-only home (a container, a CI sandbox): the verified mirror copy serves in place
        if (!isUnwritable(err)) throw err;
        return resolved;
      }
    }
  }

  const failures: string[] = [];
  if (!opts.offline) {
    for (const url of manifest.urls ?? []) {
      try {
        return await download(manifest, url, cached, opts);
      } catch (err) {
        if (err instanceof ModelError) throw err;
        failures.push(`${url}: ${(err as Error).message}${(err as any)?.cause?.code ? ` (${(err as any).cause.code})` : ""}`);
      }
    }
  }
  const tried = [`the cache (${cached})`, mirror ? `the mirror folder ${mirror}` : "no mirror (IMGFN_MODEL_MIRROR is not set)"];
  if (opts.offline) tried.push("no download (offline)");
  throw new ModelError(
    `model weights "${manifest.file}" (${manifest.id}) are not available. Tried ${tried.join(", ")}${failures.length ? `, and downloading: ${failures.join("; ")}` : ""}`,
    {
      hint: `download ${manifest.urls?.[0] ?? manifest.file} on a connected machine and either set IMGFN_MODEL_MIRROR to the folder holding it, or pass its path with --weights`,
    },
  );
}

async function download(manifest: ModelManifest, url: string, target: string, opts: ResolveOptions): Promise<ResolvedWeights> {
  const res = await (opts.fetchImpl ?? fetch)(url, { redirect: "follow", signal: AbortSignal.timeout(120_000) });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  const total = Number(res.headers.get("content-length")) || manifest.bytes;
  try {
    await mkdir(join(target, ".."), { recursive: true });
  } catch (err) {
    if (!isUnwritable(err)) throw err;
    await res.body.cancel().catch(() => {});
    throw new ModelError(`the model cache ${join(target, "..")} cannot be written (${(err as NodeJS.ErrnoException).code}), so the weights cannot be downloaded into it`, {
      hint: "set XDG_CACHE_HOME to a writable folder, or point IMGFN_MODEL_MIRROR at a folder holding the .onnx file, or pass it with --weights",
    });
  }
  const tmp = `${target}.${randomBytes(4).toString("hex")}.tmp`;
  const hash = createHash("sha256");
  let received = 0;
  try {
    const body = Readable.fromWeb(res.body as any);
    body.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      received += chunk.length;
      opts.onProgress?.(received, total, url);
    });
    await pipeline(body, createWriteStream(tmp));
    const sha256 = hash.digest("hex");
    if (sha256 !== manifest.sha256) throw checksumError(manifest, url, sha256, "the download from");
    await rename(tmp, target); // atomic: a half-written file never sits at the cache path
    return { path: target, source: "download", sha256, bytes: received };
  } finally {
    await rm(tmp, { force: true });
  }
}
