/**
 * Buckets and objects on disk. A key is only ever data: the files are named by random ids and the
 * key is stored inside the metadata, never in a path, so any key S3 allows (`../` included) stays
 * inside the data folder. Layout, under <dir>/buckets/<bucket>/:
 *   bucket.json                 the bucket (name, creation date)
 *   objects.jsonl               the objects' metadata (key, size, ETag, headers, checksum, where the
 *                               bytes are): a journal of commits (journal.ts)
 *   data/<id>                   either a segment: the bytes of many small objects one after the
 *                               other, appended (an object is a file id, an offset and a size), or
 *                               one large object's own file
 *   tmp/<id>.json               bucket and upload files being written (wiped at start)
 *   uploads/<uploadId>/         a multipart upload: upload.json, part-<n>.json, part-<n>.<id>
 * Small objects go to segments because creating a file is by far the dearest part of a small PUT:
 * an inode and a directory entry (on ext4 up to a millisecond of kernel time where many files were
 * recently deleted), against microseconds for an append to a file already open.
 * Writes are atomic: the bytes go first (a segment append, or a new data file), then the journal
 * line that names them is appended (the commit), so a reader sees the old object or the new one,
 * never part of one; bytes no journal line names are not part of any object. A segment whose
 * objects are all gone is removed; one mostly dead is compacted (its live objects copied to the
 * current segment) at start and whenever a segment fills up. Everything survives a restart. Small
 * objects' bytes are also kept in memory (bounded), since the pipeline reads each upload right
 * after writing it.
 */
import { randomBytes } from "node:crypto";
import { closeSync, createReadStream, createWriteStream, openSync, readSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
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
  /** The data file's id under data/ ("" for an empty object). */
  file: string;
  /** Where the bytes start when `file` is a segment shared by small objects; absent when it is the object's own file. */
  offset?: number;
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

/**
 * Bytes received, not yet part of any object: a small body in memory (written to a segment when it
 * is committed), or a large one already in its own data file.
 */
export type TempFile = { size: number; bytes: Buffer; id?: undefined; path?: undefined } | { size: number; id: string; path: string; bytes?: undefined };

/** Objects up to this size go to segments and are kept in the memory cache. */
const SMALL_OBJECT_BYTES = 1024 * 1024;
const CACHE_BYTES = 64 * 1024 * 1024;
/** A segment takes appends until it is this large (tests pass a smaller size to Store.open). */
const SEGMENT_BYTES = 64 * 1024 * 1024;

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

const newId = () => randomBytes(12).toString("hex");
/** Where an object's bytes are: its data file, or its place in a segment (the cache's key). */
const location = (m: ObjectMeta) => (m.offset === undefined ? m.file : `${m.file}@${m.offset}`);
const UPLOAD_ID = /^[0-9a-f]{32}$/;

/** A segment's file size and the bytes of it live objects still use. */
interface Segment {
  size: number;
  live: number;
}

class Bucket {
  readonly objects = new Map<string, ObjectMeta>();
  /** Keys in S3's order. */
  keys: string[] = [];
  journal!: Journal<ObjectMeta>;
  readonly segments = new Map<string, Segment>();
  /** The segment appends go to, and its open descriptor. */
  current?: { id: string; fd: number };
  compacting = false;
  constructor(
    readonly info: BucketInfo,
    readonly dir: string,
  ) {}

  dataPath(file: string): string {
    return join(this.dir, "data", file);
  }

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
  /** Object location (location()) → bytes, oldest first. */
  private readonly cache = new Map<string, Buffer>();
  private cached = 0;

  private remember(id: string, bytes: Buffer | undefined): void {
    if (!bytes || bytes.length === 0) return;
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

  private constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
  ) {}

  /** Opens (or creates) the data folder, reading every bucket's journal back. */
  static async open(dir: string, options: { segmentBytes?: number } = {}): Promise<Store> {
    const store = new Store(dir, options.segmentBytes ?? SEGMENT_BYTES);
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
      for (const m of bucket.objects.values()) {
        if (m.offset === undefined || m.file === "") continue;
        let seg = bucket.segments.get(m.file);
        if (!seg) bucket.segments.set(m.file, (seg = { size: statSync(bucket.dataPath(m.file)).size, live: 0 }));
        seg.live += m.size;
      }
      store.buckets.set(info.name, bucket);
      store.compactSegments(bucket);
    }
    return store;
  }

  /** Closes the journals and segments (every commit is already written). */
  async close(): Promise<void> {
    for (const b of this.buckets.values()) this.closeBucket(b);
  }

  private closeBucket(b: Bucket): void {
    b.journal.close();
    if (b.current) closeSync(b.current.fd);
    b.current = undefined;
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
    this.closeBucket(b);
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
   * (conditions, the range). A write that commits meanwhile may remove the old file (or compact its
   * segment away); then the new object is opened instead.
   */
  async openRead(bucket: string, key: string, prepare?: (meta: ObjectMeta) => ByteRange | undefined): Promise<{ meta: ObjectMeta; stream?: Readable; bytes?: Buffer } | undefined> {
    const b = this.bucket(bucket);
    for (let attempt = 0; attempt < 5; attempt++) {
      const meta = b.objects.get(key);
      if (!meta) return undefined;
      const range = prepare?.(meta);
      const cached = this.cache.get(location(meta));
      if (cached) return { meta, bytes: range ? cached.subarray(range.start, range.end + 1) : cached };
      if (meta.size === 0) return { meta, bytes: Buffer.alloc(0) };
      try {
        const fd = await open(b.dataPath(meta.file), "r");
        const r = range ?? { start: 0, end: meta.size - 1 };
        const at = meta.offset ?? 0;
        return { meta, stream: fd.createReadStream({ start: at + r.start, end: at + r.end, highWaterMark: 256 * 1024 }) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
    throw new S3Error("InternalError", "the object kept changing while it was being read; try again");
  }

  /**
   * Receives bytes (bounded by `limit`), to be committed or discarded: a small body is gathered in
   * memory (commit() appends it to a segment), a large one streams into a new data file.
   */
  async writeTemp(bucket: string, source: AsyncIterable<Buffer>, limit: number): Promise<TempFile> {
    const b = this.bucket(bucket);
    const it = source[Symbol.asyncIterator]();
    const head: Buffer[] = [];
    let size = 0;
    const tooLarge = () => new S3Error("EntityTooLarge", undefined, { MaxSizeAllowed: limit });
    try {
      for (;;) {
        const next = await it.next();
        if (next.done) return { size, bytes: head.length === 1 ? head[0] : Buffer.concat(head, size) };
        size += next.value.length;
        if (size > limit) throw tooLarge();
        head.push(next.value);
        if (size > SMALL_OBJECT_BYTES) break;
      }
    } catch (err) {
      await it.return?.();
      throw err;
    }
    const id = newId();
    const path = b.dataPath(id);
    try {
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
    if (temp?.path) await rm(temp.path, { force: true });
  }

  /** The bytes received, from memory or from their file. */
  async *tempBytes(temp: TempFile): AsyncGenerator<Buffer> {
    if (temp.bytes) yield temp.bytes;
    else for await (const c of createReadStream(temp.path, { highWaterMark: 1024 * 1024 })) yield c as Buffer;
  }

  /**
   * Makes received bytes the object at `meta.key` (a small body is appended to the current segment
   * first): appending its journal line is the commit. Synchronous from the first write to the
   * last, so commits never interleave.
   */
  async commit(bucket: string, temp: TempFile, meta: Omit<ObjectMeta, "file" | "offset">): Promise<ObjectMeta> {
    const b = this.bucket(bucket);
    const full: ObjectMeta = temp.path !== undefined ? { ...meta, file: temp.id } : { ...meta, ...this.appendToSegment(b, temp.bytes) };
    const old = b.objects.get(meta.key);
    b.objects.set(meta.key, full);
    b.addKey(meta.key);
    this.remember(location(full), temp.bytes);
    b.journal.append({ put: full }, b.objects.size);
    if (old) this.release(b, old);
    return full;
  }

  /** Removes an object; false when there was none. */
  async delete(bucket: string, key: string): Promise<boolean> {
    const b = this.bucket(bucket);
    const old = b.objects.get(key);
    if (!old) return false;
    b.objects.delete(key);
    b.removeKey(key);
    b.journal.append({ delete: key }, b.objects.size);
    this.release(b, old);
    return true;
  }

  // ---- segments ----

  /** Appends a small object's bytes to the bucket's current segment (a new one when it is full). */
  private appendToSegment(b: Bucket, bytes: Buffer): { file: string; offset: number } {
    if (bytes.length === 0) return { file: "", offset: 0 };
    let seg = b.current ? b.segments.get(b.current.id) : undefined;
    if (!b.current || !seg || seg.size + bytes.length > this.segmentBytes) {
      if (b.current) closeSync(b.current.fd);
      const id = newId();
      b.current = { id, fd: openSync(b.dataPath(id), "a") };
      b.segments.set(id, (seg = { size: 0, live: 0 }));
      // the segment just sealed, and any other mostly dead one, are compacted into the new one
      this.compactSegments(b);
    }
    const offset = seg.size;
    for (let done = 0; done < bytes.length; ) done += writeSync(b.current.fd, bytes, done, bytes.length - done);
    seg.size += bytes.length;
    seg.live += bytes.length;
    return { file: b.current.id, offset };
  }

  /** Frees what a replaced or deleted object used: its own file, or its bytes of a segment. */
  private release(b: Bucket, old: ObjectMeta): void {
    this.forget(location(old));
    if (old.file === "") return;
    if (old.offset === undefined) {
      unlink(b.dataPath(old.file)).catch(() => {});
      return;
    }
    const seg = b.segments.get(old.file);
    if (!seg) return;
    seg.live -= old.size;
    if (seg.live <= 0 && b.current?.id !== old.file) this.dropSegment(b, old.file);
  }

  private dropSegment(b: Bucket, id: string): void {
    b.segments.delete(id);
    try {
      unlinkSync(b.dataPath(id));
    } catch {
      // already gone
    }
  }

  /**
   * Copies the live objects of every segment other than the current one that is over half dead
   * into the current segment (new journal lines: same objects, new places), then removes it.
   * Readers that already opened the old segment finish from their open descriptor.
   */
  private compactSegments(b: Bucket): void {
    // the appends below may fill a segment and start another: that rotation compacts nothing
    if (b.compacting) return;
    const victims = new Set([...b.segments].filter(([id, seg]) => id !== b.current?.id && seg.live * 2 < seg.size).map(([id]) => id));
    if (victims.size === 0) return;
    b.compacting = true;
    try {
      for (const meta of [...b.objects.values()]) {
        if (meta.offset === undefined || !victims.has(meta.file)) continue;
        const bytes = this.cache.get(location(meta)) ?? this.readSegment(b, meta);
        this.forget(location(meta));
        const moved: ObjectMeta = { ...meta, ...this.appendToSegment(b, bytes) };
        b.objects.set(meta.key, moved);
        b.journal.append({ put: moved }, b.objects.size);
      }
      for (const id of victims) this.dropSegment(b, id);
    } finally {
      b.compacting = false;
    }
  }

  private readSegment(b: Bucket, meta: ObjectMeta): Buffer {
    const fd = openSync(b.dataPath(meta.file), "r");
    try {
      const bytes = Buffer.allocUnsafe(meta.size);
      let done = 0;
      while (done < meta.size) {
        const n = readSync(fd, bytes, done, meta.size - done, meta.offset! + done);
        if (n === 0) throw new Error(`segment ${meta.file} ends before the bytes of ${JSON.stringify(meta.key)}`);
        done += n;
      }
      return bytes;
    } finally {
      closeSync(fd);
    }
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
    if (temp.path !== undefined) await rename(temp.path, join(dir, file));
    else writeFileSync(join(dir, file), temp.bytes);
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
