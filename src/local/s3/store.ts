/**
 * Buckets and objects on disk. A key is only ever data: the files are named by random ids and the
 * key is stored inside the metadata, never in a path, so any key S3 allows (`../` included) stays
 * inside the data folder. Layout, under <dir>/buckets/<bucket>/:
 *   bucket.json                 the bucket (name, creation date)
 *   objects.jsonl               the objects' metadata (key, size, ETag, headers, checksum, data
 *                               file): a journal of commits (journal.ts)
 *   data/<id>                   an object's bytes (and bytes being received: a data file no sidecar
 *                               names is not part of any object, and is removed at start)
 *   tmp/<id>.json               sidecars being written (wiped at start)
 *   uploads/<uploadId>/         a multipart upload: upload.json, part-<n>.json, part-<n>.<id>
 * Writes are atomic: the bytes go to a new data file, then the journal line that names it is
 * appended (the commit), so a reader sees the old object or the new one, never part of one.
 * Everything survives a restart. Small objects' bytes are also kept in memory (bounded), since
 * the pipeline reads each upload right after writing it.
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, writeFile as writeFileCallback } from "node:fs";
import { promisify } from "node:util";
import { mkdir, open, readdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { S3Error } from "./errors.js";
import type { ChecksumAlgorithm } from "./checksums.js";
import { Journal, type JournalEntry } from "./journal.js";

export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  /** base64; "<base64>-<parts>" for a composite multipart checksum */
  value: string;
  type: "FULL_OBJECT" | "COMPOSITE";
}

export interface ObjectMeta {
  key: string;
  size: number;
  /** Without quotes: md5 hex, or "<hex>-<parts>" for a multipart object. */
  etag: string;
  /** ISO time */
  lastModified: string;
  contentType: string;
  /** x-amz-meta-* by lower-case name (without the prefix). */
  userMetadata: Record<string, string>;
  /** content-encoding, content-disposition, content-language, cache-control, expires. */
  headers: Record<string, string>;
  checksum?: StoredChecksum;
  parts?: number;
  /** The data file's id under data/. */
  file: string;
}

export interface BucketInfo {
  name: string;
  created: string;
}

export interface UploadInfo {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: string;
  contentType: string;
  userMetadata: Record<string, string>;
  headers: Record<string, string>;
  checksumAlgorithm?: ChecksumAlgorithm;
  checksumType?: "FULL_OBJECT" | "COMPOSITE";
}

export interface PartMeta {
  partNumber: number;
  size: number;
  /** md5 hex, no quotes */
  etag: string;
  lastModified: string;
  checksum?: string;
  file: string;
}

/** Inclusive byte offsets. */
export interface ByteRange {
  start: number;
  end: number;
}

/** A data file written, not yet part of any object. */
export interface TempFile {
  id: string;
  path: string;
  size: number;
  /** The bytes, when small enough to keep in memory. */
  bytes?: Buffer;
}

/** Objects up to this size are written in one call and kept in the memory cache. */
const SMALL_OBJECT_BYTES = 1024 * 1024;
const CACHE_BYTES = 64 * 1024 * 1024;

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function validateBucketName(name: string): void {
  if (!BUCKET_NAME.test(name) || name.includes("..") || /^\d+\.\d+\.\d+\.\d+$/.test(name)) {
    throw new S3Error("InvalidBucketName", `The specified bucket is not valid: "${name}" (S3 bucket names are 3 to 63 characters of a-z, 0-9, "." and "-", starting and ending with a letter or digit)`, { BucketName: name });
  }
}

/** S3 orders keys by their UTF-8 bytes, i.e. by code point (JS compares UTF-16 units). */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** fs's callback writeFile: no FileHandle object per write, which costs more CPU than the write. */
const writeSmall = promisify(writeFileCallback);
const newId = () => randomBytes(12).toString("hex");
const UPLOAD_ID = /^[0-9a-f]{32}$/;

class Bucket {
  readonly objects = new Map<string, ObjectMeta>();
  /** Keys in S3's order. */
  keys: string[] = [];
  journal!: Journal<ObjectMeta>;
  constructor(
    readonly info: BucketInfo,
    readonly dir: string,
  ) {}

  /** Index of the first key >= `key`. */
  lowerBound(key: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(this.keys[mid], key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  addKey(key: string): void {
    const i = this.lowerBound(key);
    if (this.keys[i] !== key) this.keys.splice(i, 0, key);
  }
  removeKey(key: string): void {
    const i = this.lowerBound(key);
    if (this.keys[i] === key) this.keys.splice(i, 1);
  }
}

async function writeJsonAtomic(tmpDir: string, target: string, value: unknown): Promise<void> {
  const tmp = join(tmpDir, `${newId()}.json`);
  await writeFile(tmp, JSON.stringify(value));
  await rename(tmp, target);
}

export class Store {
  private readonly buckets = new Map<string, Bucket>();
  /** Data file id → bytes, oldest first. */
  private readonly cache = new Map<string, Buffer>();
  private cached = 0;

  private remember(id: string, bytes: Buffer | undefined): void {
    if (!bytes) return;
    this.cache.set(id, bytes);
    this.cached += bytes.length;
    for (const [old, b] of this.cache) {
      if (this.cached <= CACHE_BYTES) break;
      this.cache.delete(old);
      this.cached -= b.length;
    }
  }

  private forget(id: string): void {
    const b = this.cache.get(id);
    if (b) {
      this.cache.delete(id);
      this.cached -= b.length;
    }
  }

  private constructor(readonly dir: string) {}

  /** Opens (or creates) the data folder, reading every bucket and object sidecar back. */
  static async open(dir: string): Promise<Store> {
    const store = new Store(dir);
    await mkdir(join(dir, "buckets"), { recursive: true });
    for (const name of await readdir(join(dir, "buckets"))) {
      const bdir = join(dir, "buckets", name);
      const info = await readFile(join(bdir, "bucket.json"), "utf8").then(JSON.parse, () => undefined);
      if (!info) continue;
      const bucket = new Bucket(info, bdir);
      await rm(join(bdir, "tmp"), { recursive: true, force: true });
      await mkdir(join(bdir, "tmp"), { recursive: true });
      await mkdir(join(bdir, "data"), { recursive: true });
      const apply = (e: JournalEntry<ObjectMeta>) => {
        if ("put" in e && typeof e.put?.key === "string") bucket.objects.set(e.put.key, e.put);
        else if ("delete" in e) bucket.objects.delete(e.delete);
      };
      bucket.journal = await Journal.open(join(bdir, "objects.jsonl"), apply, () => bucket.objects.values());
      bucket.keys = [...bucket.objects.keys()].sort(compareKeys);
      const referenced = new Set([...bucket.objects.values()].map((m) => m.file));
      // bytes of a write that never committed (the process stopped in between)
      for (const f of await readdir(join(bdir, "data"))) if (!referenced.has(f)) await rm(join(bdir, "data", f), { force: true });
      store.buckets.set(info.name, bucket);
    }
    return store;
  }

  /** Finishes pending commits and closes the journals. */
  async close(): Promise<void> {
    for (const b of this.buckets.values()) await b.journal.close();
  }

  listBuckets(): BucketInfo[] {
    return [...this.buckets.values()].map((b) => b.info).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  hasBucket(name: string): boolean {
    return this.buckets.has(name);
  }

  private bucket(name: string): Bucket {
    const b = this.buckets.get(name);
    if (!b) throw new S3Error("NoSuchBucket", undefined, { BucketName: name });
    return b;
  }

  /** Creates a bucket; false when it already exists. */
  async createBucket(name: string): Promise<boolean> {
    validateBucketName(name);
    if (this.buckets.has(name)) return false;
    const bdir = join(this.dir, "buckets", name);
    for (const sub of ["data", "tmp", "uploads"]) await mkdir(join(bdir, sub), { recursive: true });
    const info = { name, created: new Date().toISOString() };
    const bucket = new Bucket(info, bdir);
    bucket.journal = await Journal.open(join(bdir, "objects.jsonl"), () => {}, () => bucket.objects.values());
    await writeJsonAtomic(join(bdir, "tmp"), join(bdir, "bucket.json"), info);
    this.buckets.set(name, bucket);
    return true;
  }

  async deleteBucket(name: string): Promise<void> {
    const b = this.bucket(name);
    if (b.objects.size > 0) throw new S3Error("BucketNotEmpty", undefined, { BucketName: name });
    this.buckets.delete(name);
    await b.journal.close();
    await rm(b.dir, { recursive: true, force: true });
  }

  head(bucket: string, key: string): ObjectMeta | undefined {
    return this.bucket(bucket).objects.get(key);
  }

  requireBucket(bucket: string): void {
    this.bucket(bucket);
  }

  /**
   * Opens an object's bytes with the metadata they belong to; `prepare` sees the metadata first
   * (conditions, the range). A write that commits meanwhile removes the old file; then the new
   * object is opened instead.
   */
  async openRead(bucket: string, key: string, prepare?: (meta: ObjectMeta) => ByteRange | undefined): Promise<{ meta: ObjectMeta; stream?: Readable; bytes?: Buffer } | undefined> {
    const b = this.bucket(bucket);
    for (let attempt = 0; attempt < 5; attempt++) {
      const meta = b.objects.get(key);
      if (!meta) return undefined;
      const range = prepare?.(meta);
      const cached = this.cache.get(meta.file);
      if (cached) return { meta, bytes: range ? cached.subarray(range.start, range.end + 1) : cached };
      if (meta.size === 0) return { meta, bytes: Buffer.alloc(0) };
      try {
        const fd = await open(join(b.dir, "data", meta.file), "r");
        const r = range ?? { start: 0, end: meta.size - 1 };
        return { meta, stream: fd.createReadStream({ start: r.start, end: r.end, highWaterMark: 256 * 1024 }) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
    throw new S3Error("InternalError", "the object kept changing while it was being read; try again");
  }

  /**
   * Writes bytes into a new data file (bounded by `limit`), to be committed or discarded. A small
   * body is gathered and written in one call; a large one streams.
   */
  async writeTemp(bucket: string, source: AsyncIterable<Buffer>, limit: number): Promise<TempFile> {
    const b = this.bucket(bucket);
    const id = newId();
    const path = join(b.dir, "data", id);
    const it = source[Symbol.asyncIterator]();
    const head: Buffer[] = [];
    let size = 0;
    const tooLarge = () => new S3Error("EntityTooLarge", undefined, { MaxSizeAllowed: limit });
    try {
      for (;;) {
        const next = await it.next();
        if (next.done) {
          const bytes = head.length === 1 ? head[0] : Buffer.concat(head, size);
          await writeSmall(path, bytes);
          return { id, path, size, bytes };
        }
        size += next.value.length;
        if (size > limit) throw tooLarge();
        head.push(next.value);
        if (size > SMALL_OBJECT_BYTES) break;
      }
      await pipeline(
        async function* () {
          yield* head;
          for (;;) {
            const next = await it.next();
            if (next.done) return;
            size += next.value.length;
            if (size > limit) throw tooLarge();
            yield next.value;
          }
        },
        createWriteStream(path),
      );
    } catch (err) {
      await it.return?.();
      await rm(path, { force: true });
      throw err;
    }
    return { id, path, size };
  }

  async discard(temp: TempFile | undefined): Promise<void> {
    if (temp) await rm(temp.path, { force: true });
  }

  /** Makes a written data file the object at `meta.key`: the rename of the sidecar is the commit. */
  async commit(bucket: string, temp: TempFile, meta: Omit<ObjectMeta, "file">): Promise<ObjectMeta> {
    const b = this.bucket(bucket);
    const full: ObjectMeta = { ...meta, file: temp.id };
    // the index changes first (in call order, as the journal lines are written), then the line
    const old = b.objects.get(meta.key);
    b.objects.set(meta.key, full);
    b.addKey(meta.key);
    this.remember(temp.id, temp.bytes);
    await b.journal.append({ put: full }, b.objects.size);
    if (old) {
      this.forget(old.file);
      await unlink(join(b.dir, "data", old.file)).catch(() => {});
    }
    return full;
  }

  /** Removes an object; false when there was none. */
  async delete(bucket: string, key: string): Promise<boolean> {
    const b = this.bucket(bucket);
    const old = b.objects.get(key);
    if (!old) return false;
    b.objects.delete(key);
    b.removeKey(key);
    await b.journal.append({ delete: key }, b.objects.size);
    this.forget(old.file);
    await unlink(join(b.dir, "data", old.file)).catch(() => {});
    return true;
  }

  /** Keys in order, from the first key > `after` (or from the start) that starts with `prefix`. */
  *keysFrom(bucket: string, prefix: string, after?: string): Generator<ObjectMeta> {
    const b = this.bucket(bucket);
    let start = b.lowerBound(after !== undefined && compareKeys(after, prefix) > 0 ? after : prefix);
    const keys = b.keys;
    if (after !== undefined && keys[start] === after) start++;
    for (let i = start; i < keys.length; i++) {
      const k = keys[i];
      if (!k.startsWith(prefix)) {
        if (compareKeys(k, prefix) > 0) return;
        continue;
      }
      const meta = b.objects.get(k);
      if (meta) yield meta;
    }
  }

  // ---- multipart uploads ----

  private uploadDir(bucket: string, uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw new S3Error("NoSuchUpload", undefined, { UploadId: uploadId });
    return join(this.bucket(bucket).dir, "uploads", uploadId);
  }

  async createUpload(info: Omit<UploadInfo, "uploadId" | "initiated">): Promise<UploadInfo> {
    const b = this.bucket(info.bucket);
    const uploadId = randomBytes(16).toString("hex");
    const full: UploadInfo = { ...info, uploadId, initiated: new Date().toISOString() };
    const dir = join(b.dir, "uploads", uploadId);
    await mkdir(dir, { recursive: true });
    await writeJsonAtomic(join(b.dir, "tmp"), join(dir, "upload.json"), full);
    return full;
  }

  async upload(bucket: string, uploadId: string, key?: string): Promise<UploadInfo> {
    const dir = this.uploadDir(bucket, uploadId);
    const info: UploadInfo | undefined = await readFile(join(dir, "upload.json"), "utf8").then(JSON.parse, () => undefined);
    if (!info || (key !== undefined && info.key !== key)) throw new S3Error("NoSuchUpload", undefined, { UploadId: uploadId });
    return info;
  }

  async listUploads(bucket: string): Promise<UploadInfo[]> {
    const b = this.bucket(bucket);
    const out: UploadInfo[] = [];
    for (const id of await readdir(join(b.dir, "uploads")).catch(() => [] as string[])) {
      const info = await this.upload(bucket, id).catch(() => undefined);
      if (info) out.push(info);
    }
    return out.sort((x, y) => compareKeys(x.key, y.key) || (x.initiated < y.initiated ? -1 : 1));
  }

  async putPart(bucket: string, uploadId: string, temp: TempFile, part: Omit<PartMeta, "file">): Promise<PartMeta> {
    const dir = this.uploadDir(bucket, uploadId);
    const file = `part-${part.partNumber}.${newId()}`;
    const old = await this.part(bucket, uploadId, part.partNumber);
    await rename(temp.path, join(dir, file));
    const full = { ...part, file };
    await writeJsonAtomic(join(this.bucket(bucket).dir, "tmp"), join(dir, `part-${part.partNumber}.json`), full);
    if (old) await rm(join(dir, old.file), { force: true });
    return full;
  }

  private async part(bucket: string, uploadId: string, n: number): Promise<PartMeta | undefined> {
    return readFile(join(this.uploadDir(bucket, uploadId), `part-${n}.json`), "utf8").then(JSON.parse, () => undefined);
  }

  async listParts(bucket: string, uploadId: string): Promise<PartMeta[]> {
    const dir = this.uploadDir(bucket, uploadId);
    const parts: PartMeta[] = [];
    for (const f of await readdir(dir)) {
      const m = /^part-(\d+)\.json$/.exec(f);
      if (!m) continue;
      const p = await this.part(bucket, uploadId, Number(m[1]));
      if (p) parts.push(p);
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  /** The parts' bytes one after the other, as a stream source. */
  async *partBytes(bucket: string, uploadId: string, parts: PartMeta[]): AsyncGenerator<Buffer> {
    const dir = this.uploadDir(bucket, uploadId);
    for (const p of parts) {
      if (p.size === 0) continue;
      for await (const c of createReadStream(join(dir, p.file), { highWaterMark: 1024 * 1024 })) yield c as Buffer;
    }
  }

  async removeUpload(bucket: string, uploadId: string): Promise<void> {
    await rm(this.uploadDir(bucket, uploadId), { recursive: true, force: true });
  }
}
