/**
 * Deterministic layers: the same files give the same bytes, whoever builds them and whenever.
 * Entries sorted, parent directories present, mtime fixed, uid/gid 0, modes normalised
 * (0755 directories and executables, 0644 the rest), gzip at a fixed level with a fixed header.
 * Layers land in a content-addressed blob store (~/.cache/imgfn/blobs/sha256/…), which also
 * caches base layers copied between registries.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, mkdir, readFile, readlink, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { pack as tarPack } from "tar-stream";
import { cacheDir } from "../paths.js";

export const OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
/** Bump when the layer byte format changes, so cached layers are rebuilt. */
const FORMAT = "imgfn-layer-v1";
const GZIP_LEVEL = 6;

export interface LayerEntry {
  /** Path inside the image, without a leading slash (var/task/index.mjs). */
  path: string;
  type: "file" | "dir" | "symlink";
  /** file: read from here. */
  source?: string;
  /** file: or these bytes. */
  content?: Buffer;
  linkname?: string;
  executable?: boolean;
}

export interface BuiltLayer {
  /** sha256 of the gzip bytes (the blob). */
  digest: string;
  /** sha256 of the uncompressed tar (config rootfs.diff_ids). */
  diffId: string;
  size: number;
  uncompressedSize: number;
  /** The blob file in the store. */
  path: string;
  mediaType: string;
}

/** Seconds since the epoch for every mtime and `created`: SOURCE_DATE_EPOCH, else 0. */
export function fixedEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.SOURCE_DATE_EPOCH);
  return Number.isInteger(v) && v >= 0 ? v : 0;
}

export class BlobStore {
  readonly root: string;
  constructor(env: NodeJS.ProcessEnv = process.env, root?: string) {
    this.root = root ?? join(cacheDir(env), "blobs");
  }
  path(digest: string): string {
    const [alg, hex] = digest.split(":");
    return join(this.root, alg, hex);
  }
  async has(digest: string): Promise<boolean> {
    return stat(this.path(digest)).then(
      (s) => s.isFile(),
      () => false,
    );
  }
  async size(digest: string): Promise<number> {
    return (await stat(this.path(digest))).size;
  }
  async putBytes(bytes: Buffer): Promise<string> {
    const digest = "sha256:" + createHash("sha256").update(bytes).digest("hex");
    if (!(await this.has(digest))) {
      await mkdir(join(this.root, "sha256"), { recursive: true });
      const tmp = `${this.path(digest)}.${process.pid}.tmp`;
      await writeFile(tmp, bytes);
      await rename(tmp, this.path(digest));
    }
    return digest;
  }
}

/** Adds missing parent directories and sorts by path (byte order), the order tar readers see. */
export function normaliseEntries(entries: LayerEntry[]): LayerEntry[] {
  const byPath = new Map<string, LayerEntry>();
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, "").replace(/\/+$/, "");
    byPath.set(path, { ...e, path });
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!byPath.has(dir)) byPath.set(dir, { path: dir, type: "dir" });
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Hash of what a layer will contain (paths, modes, sizes, mtimes of the sources), for the cache. */
async function layerKey(entries: LayerEntry[]): Promise<string> {
  const h = createHash("sha256").update(FORMAT).update(String(GZIP_LEVEL));
  for (const e of entries) {
    h.update(`\0${e.type}\0${e.path}\0${e.linkname ?? ""}\0${e.executable ? 1 : 0}\0`);
    if (e.content) h.update(e.content);
    else if (e.source) {
      const s = await stat(e.source);
      h.update(`${e.source}\0${s.size}\0${s.mtimeMs}\0${s.ino}`);
    }
  }
  return h.digest("hex");
}

/** Counts and hashes bytes passing through. */
class Tap extends Transform {
  readonly hash = createHash("sha256");
  bytes = 0;
  _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void) {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/** Sets the gzip header's OS byte to 255 (unknown), as zlib writes 3 on Linux and 19 on macOS. */
class FixGzipHeader extends Transform {
  private seen = 0;
  _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void) {
    if (this.seen <= 9 && this.seen + chunk.length > 9) {
      chunk = Buffer.from(chunk);
      chunk[9 - this.seen] = 255;
    }
    this.seen += chunk.length;
    cb(null, chunk);
  }
}

/**
 * Writes a layer for `entries` into the store (or reuses the cached one when the sources are
 * unchanged) and describes it.
 */
export async function buildLayer(entries: LayerEntry[], opts: { store: BlobStore; epoch?: number; useCache?: boolean } = { store: new BlobStore() }): Promise<BuiltLayer> {
  const { store } = opts;
  const epoch = opts.epoch ?? 0;
  const sorted = normaliseEntries(entries);
  const key = await layerKey(sorted);
  const index = join(store.root, "layers", `${key}-${epoch}.json`);
  if (opts.useCache !== false) {
    const cached = await readFile(index, "utf8").then(JSON.parse, () => undefined);
    if (cached && (await store.has(cached.digest))) return { ...cached, path: store.path(cached.digest) };
  }

  await mkdir(join(store.root, "sha256"), { recursive: true });
  const tmp = join(store.root, "sha256", `layer-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.tmp`);
  const tar = tarPack();
  const raw = new Tap();
  const gz = new Tap();
  const written = pipeline(tar, raw, createGzip({ level: GZIP_LEVEL, memLevel: 8, windowBits: 15 }), new FixGzipHeader(), gz, createWriteStream(tmp));
  const mtime = new Date(epoch * 1000);
  const common = { mtime, uid: 0, gid: 0, uname: "root", gname: "root" };
  try {
    for (const e of sorted) {
      if (e.type === "dir") {
        await addEntry(tar, { ...common, name: e.path + "/", type: "directory", mode: 0o755 });
      } else if (e.type === "symlink") {
        await addEntry(tar, { ...common, name: e.path, type: "symlink", linkname: e.linkname!, mode: 0o777 });
      } else {
        let executable = e.executable;
        let size: number;
        if (e.content) size = e.content.length;
        else {
          const s = await lstat(e.source!);
          if (s.isSymbolicLink()) {
            await addEntry(tar, { ...common, name: e.path, type: "symlink", linkname: await readlink(e.source!), mode: 0o777 });
            continue;
          }
          size = s.size;
          executable ??= (s.mode & 0o111) !== 0;
        }
        const header = { ...common, name: e.path, type: "file" as const, size, mode: executable ? 0o755 : 0o644 };
        await addEntry(tar, header, e.content ?? createReadStream(e.source!));
      }
    }
    tar.finalize();
    await written;
  } catch (err) {
    tar.destroy(err as Error);
    await written.catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
  const digest = "sha256:" + gz.hash.digest("hex");
  const layer: BuiltLayer = { digest, diffId: "sha256:" + raw.hash.digest("hex"), size: gz.bytes, uncompressedSize: raw.bytes, path: store.path(digest), mediaType: OCI_LAYER_GZIP };
  await rename(tmp, layer.path);
  await mkdir(join(store.root, "layers"), { recursive: true });
  const { path: _p, ...record } = layer;
  await writeFile(index, JSON.stringify(record));
  return layer;
}

function addEntry(tar: ReturnType<typeof tarPack>, header: Parameters<ReturnType<typeof tarPack>["entry"]>[0], body?: Buffer | Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    if (body === undefined) {
      tar.entry(header, done);
      return;
    }
    if (Buffer.isBuffer(body)) {
      tar.entry(header, body, done);
      return;
    }
    const sink = tar.entry(header, done);
    body.on("error", reject);
    body.pipe(sink);
  });
}
