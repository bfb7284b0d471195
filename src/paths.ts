/** Where imgfn's own files live (works from src/ under tests and from dist/ when installed). */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

/** The imgfn package folder (holds package.json, model/, samples/, dist/). */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === "imgfn") return (root = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error("imgfn: cannot find its own package.json");
    dir = parent;
  }
}

export const defaultManifestPath = () => join(packageRoot(), "model", "model.json");
export const samplePath = (name = "cat.jpg") => join(packageRoot(), "samples", name);

/** $XDG_CACHE_HOME/imgfn or ~/.cache/imgfn */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "imgfn");
}
