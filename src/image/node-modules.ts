/**
 * The production node_modules the function needs in the image, for linux/<arch> only: the
 * dependency closure of the bundle's externals (onnxruntime-node, sharp), with other platforms'
 * binaries, docs, TypeScript sources, maps and tests left out. Platform packages missing from the
 * local install (arm64 sharp on an x64 laptop) come from the npm registry, integrity-checked,
 * cached under ~/.cache/imgfn/npm.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract as tarExtract } from "tar-stream";
import type { Architecture } from "../config.js";
import { UserError } from "../errors.js";
import { cacheDir, packageRoot } from "../paths.js";
import type { LayerEntry } from "./layer.js";
import { nodeArch } from "./reference.js";

import { FUNCTION_EXTERNALS } from "./stage.js";

/** Dependencies only a package's install script uses, never its runtime. */
const INSTALL_ONLY: Record<string, string[]> = {
  // script/install.js downloads GPU providers; the CPU binaries ship in bin/
  "onnxruntime-node": ["adm-zip", "global-agent"],
};

export interface FunctionPackage {
  name: string;
  version: string;
  /** Folder on disk. */
  dir: string;
  /** Path under the task root: node_modules/<name> (or nested). */
  imagePath: string;
  /** "local" install or fetched from the npm "registry". */
  from: "local" | "registry";
}

export interface NodeModulesOptions {
  /** Folder whose node_modules hold imgfn's dependencies (default: imgfn's package root). */
  root?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  os?: string[];
  cpu?: string[];
  libc?: string[];
}

async function readPackageJson(dir: string): Promise<PackageJson> {
  return JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
}

/** Node's lookup: <dir>/node_modules/<name>, then each parent's node_modules. */
function resolvePackageDir(name: string, fromDir: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Whether a package's os/cpu/libc fields allow linux/<arch> with glibc (Amazon Linux). */
export function fitsLambda(pkg: Pick<PackageJson, "os" | "cpu" | "libc">, arch: Architecture): boolean {
  const allows = (list: string[] | undefined, value: string) => !list || list.length === 0 || (list.includes(value) || list.includes("any") ? !list.includes(`!${value}`) : list.every((v) => v.startsWith("!") && v !== `!${value}`));
  return allows(pkg.os, "linux") && allows(pkg.cpu, nodeArch(arch)) && allows(pkg.libc, "glibc");
}

/** Guess from a package name whether it is another platform's native build (not installed here). */
function namedForOtherPlatform(name: string, arch: Architecture): boolean {
  const platformish = /(darwin|win32|freebsd|linux|wasm32|webcontainers|android|sunos|aix|musl)/.test(name);
  if (!platformish) return false;
  return !(new RegExp(`linux-${nodeArch(arch)}(?![\\w])`).test(name) && !/musl/.test(name));
}

/** Resolves the closure of FUNCTION_EXTERNALS for linux/<arch>. */
export async function functionPackages(arch: Architecture, opts: NodeModulesOptions = {}): Promise<FunctionPackage[]> {
  const root = opts.root ?? packageRoot();
  const result = new Map<string, FunctionPackage>(); // by imagePath
  const seenDirs = new Map<string, FunctionPackage>();
  const visit = async (name: string, fromDir: string, parent: FunctionPackage | undefined, spec: string | undefined, optional: boolean): Promise<void> => {
    let dir = resolvePackageDir(name, fromDir);
    let from: "local" | "registry" = "local";
    if (dir) {
      const pkg = await readPackageJson(dir);
      if (optional && !fitsLambda(pkg, arch)) return;
      if (optional && spec && /^\d+\.\d+\.\d+/.test(spec) && pkg.version !== spec) dir = undefined; // a different pinned build
    }
    if (!dir) {
      if (!optional) throw new UserError(`${name} (needed by ${parent?.name ?? "the function"}) is not installed under ${root}`, { hint: "run npm ci in imgfn's folder" });
      if (namedForOtherPlatform(name, arch)) return;
      if (!spec || !/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec)) return; // only exact pins are fetched
      dir = await fetchPackage(name, spec, opts);
      from = "registry";
      const pkg = await readPackageJson(dir);
      if (!fitsLambda(pkg, arch)) return;
    }
    const known = seenDirs.get(dir);
    if (known) return;
    const pkg = await readPackageJson(dir);
    // Hoisted to node_modules/<name> unless it sits nested under its parent (or the name is taken).
    const nested = parent && from === "local" && dir.startsWith(parent.dir + sep + "node_modules" + sep);
    let imagePath = nested ? `${parent!.imagePath}/node_modules/${name}` : `node_modules/${name}`;
    if (!nested && result.has(imagePath) && result.get(imagePath)!.dir !== dir) imagePath = `${parent!.imagePath}/node_modules/${name}`;
    const entry: FunctionPackage = { name, version: pkg.version, dir, imagePath, from };
    seenDirs.set(dir, entry);
    result.set(imagePath, entry);
    const skip = new Set(INSTALL_ONLY[name] ?? []);
    for (const [dep, range] of Object.entries(pkg.dependencies ?? {})) if (!skip.has(dep)) await visit(dep, dir, entry, range, false);
    for (const [dep, range] of Object.entries(pkg.optionalDependencies ?? {})) if (!skip.has(dep)) await visit(dep, dir, entry, range, true);
  };
  for (const name of FUNCTION_EXTERNALS) await visit(name, root, undefined, undefined, false);
  return [...result.values()].sort((a, b) => (a.imagePath < b.imagePath ? -1 : 1));
}

/** Files that a running function never reads. */
function keepFile(pkgName: string, rel: string, arch: Architecture): boolean {
  const parts = rel.split("/");
  const base = parts[parts.length - 1];
  if (/\.(d\.ts|d\.mts|d\.cts|ts|mts|cts|map|md|markdown|h|hpp|hh|c|cc|cpp|gyp|gypi|tsbuildinfo)$/i.test(base) && !/\.node$/.test(base)) return false;
  if (/^(README|CHANGELOG|HISTORY|AUTHORS|CONTRIBUTING)(\..*)?$/i.test(base)) return false;
  if (parts.slice(0, -1).some((d) => /^(test|tests|__tests__|docs?|examples?|\.github|benchmarks?)$/i.test(d))) return false;
  if (pkgName === "onnxruntime-node") {
    if (parts[0] === "script" || parts[0] === "lib") return false; // install scripts, TS sources
    if (parts[0] === "bin") return /^bin\/napi-v\d+\/linux\/([^/]+)\//.test(rel) && rel.split("/")[3] === nodeArch(arch);
  }
  if (pkgName === "sharp" && (parts[0] === "src" || parts[0] === "install")) return false; // C++ sources, from-source build
  return true;
}

async function listFiles(dir: string, prefix = ""): Promise<{ rel: string; abs: string; symlink: boolean }[]> {
  const out: { rel: string; abs: string; symlink: boolean }[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${d.name}` : d.name;
    const abs = join(dir, d.name);
    if (d.isDirectory()) {
      if (d.name === "node_modules" || d.name === ".bin") continue; // nested packages are visited separately
      out.push(...(await listFiles(abs, rel)));
    } else if (d.isFile() || d.isSymbolicLink()) out.push({ rel, abs, symlink: d.isSymbolicLink() });
  }
  return out;
}

/** The layer entries (under var/task/) for the function's node_modules. */
export async function nodeModulesEntries(arch: Architecture, opts: NodeModulesOptions & { prune?: boolean; taskRoot?: string } = {}): Promise<{ entries: LayerEntry[]; packages: FunctionPackage[] }> {
  const packages = await functionPackages(arch, opts);
  const taskRoot = opts.taskRoot ?? "var/task";
  const entries: LayerEntry[] = [];
  for (const pkg of packages) {
    for (const f of await listFiles(pkg.dir)) {
      if (opts.prune !== false && !keepFile(pkg.name, f.rel, arch)) continue;
      entries.push({ path: `${taskRoot}/${pkg.imagePath}/${f.rel}`, type: "file", source: f.abs });
    }
  }
  return { entries, packages };
}

// ---- npm registry fetch ---------------------------------------------------------------------

function registryUrl(env: NodeJS.ProcessEnv): string {
  return (env.npm_config_registry || env.NPM_CONFIG_REGISTRY || "https://registry.npmjs.org/").replace(/\/?$/, "/");
}

/** Downloads name@version's tarball (integrity-checked) into the cache; returns its folder. */
export async function fetchPackage(name: string, version: string, opts: NodeModulesOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const dest = join(cacheDir(env), "npm", name.replace("/", "+"), version, "package");
  if (existsSync(join(dest, "package.json"))) return dest;
  const registry = registryUrl(env);
  opts.onProgress?.(`fetching ${name}@${version} from ${registry}`);
  const metaUrl = `${registry}${name.replace("/", "%2f")}/${version}`;
  let meta: { dist?: { tarball?: string; integrity?: string; shasum?: string } };
  try {
    const r = await fetch(metaUrl, { headers: { accept: "application/json" }, signal: opts.signal });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    meta = (await r.json()) as typeof meta;
  } catch (err) {
    throw new UserError(`cannot fetch ${name}@${version} metadata from ${metaUrl}: ${(err as Error).message}`, {
      cause: err,
      hint: "the linux binaries for the target architecture come from the npm registry; check the network or npm_config_registry",
    });
  }
  const { tarball, integrity, shasum } = meta.dist ?? {};
  if (!tarball || (!integrity && !shasum)) throw new UserError(`${name}@${version}: the registry metadata has no tarball or integrity`);
  const r = await fetch(tarball, { signal: opts.signal });
  if (!r.ok) throw new UserError(`cannot download ${tarball}: HTTP ${r.status}`);
  const bytes = Buffer.from(await r.arrayBuffer());
  if (integrity) {
    const [alg, expected] = integrity.split(" ")[0].split(/-(.*)/s);
    const got = createHash(alg).update(bytes).digest("base64");
    if (got !== expected) throw new UserError(`${name}@${version}: tarball integrity mismatch (expected ${integrity}, got ${alg}-${got})`);
  } else if (createHash("sha1").update(bytes).digest("hex") !== shasum) {
    throw new UserError(`${name}@${version}: tarball shasum mismatch`);
  }
  const tmp = `${dest}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await extractTarball(bytes, tmp);
  await mkdir(dirname(dest), { recursive: true });
  await rm(dest, { recursive: true, force: true });
  await rename(tmp, dest);
  return dest;
}

/** Extracts an npm tarball (entries under package/) into dest, refusing paths that escape it. */
async function extractTarball(tgz: Buffer, dest: string): Promise<void> {
  const ex = tarExtract();
  const { chmod, symlink } = await import("node:fs/promises");
  ex.on("entry", (header, stream, next) => {
    const rel = header.name.replace(/^[^/]+\//, "");
    const target = join(dest, rel);
    const done = (err?: unknown) => (err ? ex.destroy(err as Error) : next());
    if (!rel || relative(dest, target).startsWith("..")) {
      stream.resume();
      stream.on("end", () => next());
      return;
    }
    if (header.type === "file") {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => void chunks.push(c as Buffer));
      stream.on("end", () => {
        mkdir(dirname(target), { recursive: true })
          .then(() => writeFile(target, Buffer.concat(chunks)))
          .then(() => chmod(target, (header.mode ?? 0o644) & 0o111 ? 0o755 : 0o644))
          .then(() => done(), done);
      });
    } else if (header.type === "symlink" && header.linkname) {
      stream.resume();
      mkdir(dirname(target), { recursive: true })
        .then(() => symlink(header.linkname!, target))
        .then(() => done(), done);
    } else {
      stream.resume();
      stream.on("end", () => next());
    }
  });
  await pipeline(Readable.from([tgz]), createGunzip(), ex);
}

// ---- the docker builder's package.json and lock -----------------------------------------------

/**
 * package.json and package-lock.json for the function alone (its externals at the installed
 * versions), cut from imgfn's own lock, so `npm ci --omit=dev` in the Dockerfile installs exactly
 * what the daemonless builder ships, before pruning. No lock when imgfn has none.
 */
export async function functionPackageFiles(root = packageRoot()): Promise<{ packageJson: string; lock?: string }> {
  const deps: Record<string, string> = {};
  for (const name of FUNCTION_EXTERNALS) {
    const dir = resolvePackageDir(name, root);
    if (!dir) throw new UserError(`${name} is not installed under ${root}`, { hint: "run npm ci in imgfn's folder" });
    deps[name] = (await readPackageJson(dir)).version;
  }
  const pkg = { name: "imgfn-function", version: "1.0.0", private: true, type: "module", dependencies: deps };
  const packageJson = JSON.stringify(pkg, null, 2) + "\n";
  const lockText = await readFile(join(root, "package-lock.json"), "utf8").catch(() => undefined);
  if (!lockText) return { packageJson };
  const lock = JSON.parse(lockText);
  const all: Record<string, any> = lock.packages ?? {};
  const keep: Record<string, any> = { "": { name: pkg.name, version: pkg.version, dependencies: deps } };
  const locate = (name: string, from: string): string | undefined => {
    // lock paths follow node's lookup: from/node_modules/name, then each ancestor's
    let base = from;
    for (;;) {
      const key = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
      if (all[key]) return key;
      if (!base) return undefined;
      const i = base.lastIndexOf("/node_modules/");
      base = i >= 0 ? base.slice(0, i) : "";
    }
  };
  const visit = (key: string) => {
    if (keep[key]) return;
    const entry = { ...all[key] };
    delete entry.dev;
    delete entry.devOptional;
    delete entry.peer;
    keep[key] = entry;
    for (const dep of [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {})]) {
      const k = locate(dep, key);
      if (k) visit(k);
    }
  };
  for (const name of FUNCTION_EXTERNALS) {
    const k = locate(name, "");
    if (k) visit(k);
  }
  const sortedKeys = Object.keys(keep).sort();
  const out = { name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages: Object.fromEntries(sortedKeys.map((k) => [k, keep[k]])) };
  return { packageJson, lock: JSON.stringify(out, null, 2) + "\n" };
}
