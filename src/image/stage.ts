/**
 * The function's files, exactly as they sit in /var/task in the image: the bundled handler, the
 * model manifest, labels and weights. The image builders and the local emulator both start here,
 * so the emulator runs the very code that ships.
 */
import { constants, existsSync, readFileSync } from "node:fs";
import { copyFile, link, mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { ModelSpec } from "../model/spec.js";
import { packageRoot } from "../paths.js";

export interface StagedFunction {
  /** The task root (LAMBDA_TASK_ROOT): holds index.mjs and model/. */
  dir: string;
  handler: string;
  /** Paths relative to dir → absolute source paths, for the image layers. */
  files: { handler: string[]; model: string[] };
}

/** Packages the function bundle leaves external: they ship as node_modules (native code). */
export const FUNCTION_EXTERNALS = ["onnxruntime-node", "sharp"] as const;

/** The folder of an installed package, as Node resolves it from imgfn's own location. */
export function installedPackageDir(name: string): string {
  let dir = dirname(createRequire(join(packageRoot(), "package.json")).resolve(name));
  while (!existsSync(join(dir, "package.json")) || JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name !== name) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the installed package ${name}`);
    dir = parent;
  }
  return dir;
}

/** The compiled handler bundle (built by `npm run build`). */
export function functionBundlePath(): string {
  return join(packageRoot(), "dist", "function", "index.mjs");
}

async function placeFile(src: string, dest: string): Promise<void> {
  await rm(dest, { force: true });
  // a hard link is instant and costs no space; fall back to a copy across file systems
  await link(src, dest).catch(() => copyFile(src, dest, constants.COPYFILE_FICLONE));
}

/**
 * Writes the task root into `dir`. With `linkNodeModules`, a node_modules symlink to imgfn's own
 * dependencies lets the emulator load onnxruntime-node and sharp from the host.
 */
export async function stageFunction(spec: ModelSpec, dir: string, opts: { linkNodeModules?: boolean } = {}): Promise<StagedFunction> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, "model"), { recursive: true });
  const bundle = functionBundlePath();
  await placeFile(bundle, join(dir, "index.mjs")).catch((err) => {
    throw new Error(`the function bundle ${bundle} is missing; run "npm run build"`, { cause: err });
  });
  // the source map, when the build wrote one, so stacks point at handler/*.ts lines
  const map = `${bundle}.map`;
  const hasMap = await placeFile(map, join(dir, "index.mjs.map")).then(
    () => true,
    () => false,
  );
  await writeFile(join(dir, "package.json"), JSON.stringify({ type: "module" }) + "\n");
  // The staged manifest names files beside it, whatever paths the user's manifest used.
  const manifest = { ...spec.manifest, file: spec.manifest.file.split("/").pop()!, labels: "labels.json", sha256: spec.weights.sha256 };
  await writeFile(join(dir, "model", "model.json"), JSON.stringify(manifest, null, 2) + "\n");
  await writeFile(join(dir, "model", "labels.json"), JSON.stringify(spec.labels) + "\n");
  await placeFile(spec.weights.path, join(dir, "model", manifest.file));
  if (opts.linkNodeModules) {
    // One link per native package, to wherever npm put it (imgfn's own node_modules, or a
    // parent's when imgfn is installed as a dependency and npm hoisted them); their own
    // dependencies resolve from the real path.
    await mkdir(join(dir, "node_modules"));
    for (const name of FUNCTION_EXTERNALS) {
      await symlink(installedPackageDir(name), join(dir, "node_modules", name), "dir");
    }
  }
  return {
    dir,
    handler: "index.handler",
    files: {
      handler: ["index.mjs", ...(hasMap ? ["index.mjs.map"] : []), "package.json"],
      model: ["model/model.json", "model/labels.json", `model/${manifest.file}`],
    },
  };
}
