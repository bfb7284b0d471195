/**
 * Sizes of the function's app layers (node_modules, model, handler) for an architecture, against
 * a naive `npm ci --omit=dev` of the same dependencies for the same platform. For BENCHMARKS.md.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { readdir } from "node:fs/promises";
import { execa } from "execa";
import type { Architecture } from "../config.js";
import { loadModel } from "../model/spec.js";
import { BlobStore, buildLayer, type LayerEntry } from "./layer.js";
import { functionPackageFiles } from "./node-modules.js";
import { buildAppLayers } from "./oci.js";
import { nodeArch } from "./reference.js";
import { stageFunction } from "./stage.js";

export interface LayerSize {
  kind: string;
  compressed: number;
  uncompressed: number;
}

export interface AppLayerSizes {
  architecture: Architecture;
  layers: LayerSize[];
  total: { compressed: number; uncompressed: number };
  /** node_modules from `npm ci --omit=dev` for linux/<arch>, unpruned, as one layer. */
  naiveNodeModules?: { compressed: number; uncompressed: number };
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (d.isFile() || d.isSymbolicLink()) out.push(join(d.parentPath ?? (d as any).path, d.name));
  }
  return out;
}

export async function measureAppLayers(architecture: Architecture, opts: { naive?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<AppLayerSizes> {
  const env = opts.env ?? process.env;
  const work = await mkdtemp(join(tmpdir(), "imgfn-measure-"));
  try {
    const store = new BlobStore(env, join(work, "blobs"));
    const staged = await stageFunction(await loadModel({}, { env }), join(work, "task"));
    const layers = await buildAppLayers(staged, architecture, { store, env });
    const sizes = layers.map((l) => ({ kind: l.kind, compressed: l.size, uncompressed: l.uncompressedSize }));
    const result: AppLayerSizes = {
      architecture,
      layers: sizes,
      total: { compressed: sizes.reduce((n, l) => n + l.compressed, 0), uncompressed: sizes.reduce((n, l) => n + l.uncompressed, 0) },
    };
    if (opts.naive !== false) {
      const dir = join(work, "naive");
      const { packageJson, lock } = await functionPackageFiles();
      await execa("mkdir", ["-p", dir]);
      await writeFile(join(dir, "package.json"), packageJson);
      if (lock) await writeFile(join(dir, "package-lock.json"), lock);
      // What a Dockerfile without pruning gets on linux/<arch> (install scripts off: offline-safe).
      await execa("npm", [lock ? "ci" : "install", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--os=linux", `--cpu=${nodeArch(architecture)}`, "--libc=glibc"], { cwd: dir, env: { ...env, ONNXRUNTIME_NODE_INSTALL: "skip" } });
      const entries: LayerEntry[] = (await filesUnder(join(dir, "node_modules"))).map((f) => ({ path: `var/task/${relative(dir, f)}`, type: "file", source: f }));
      const naive = await buildLayer(entries, { store, useCache: false });
      result.naiveNodeModules = { compressed: naive.size, uncompressed: naive.uncompressedSize };
    }
    return result;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
