// The local S3's store on disk: file names never come from keys, commits are atomic, a restart
// (or a crash between writing bytes and committing them) keeps exactly the committed objects.
import { appendFile, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { compareKeys, Store } from "../../../src/local/s3/store.js";
import { footprint } from "../../helpers/local-s3.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function freshStore(options: { segmentBytes?: number } = {}): Promise<{ dir: string; store: Store }> {
  const dir = await mkdtemp(join(tmpdir(), "imgfn-store-"));
  dirs.push(dir);
  const store = await Store.open(join(dir, "data"), options);
  await store.createBucket("bkt");
  return { dir, store };
}
async function* chunks(...parts: (string | Buffer)[]) {
  for (const p of parts) yield Buffer.from(p);
}
async function put(store: Store, key: string, ...parts: (string | Buffer)[]) {
  const temp = await store.writeTemp("bkt", chunks(...parts), 1e9);
  return store.commit("bkt", temp, { key, size: temp.size, etag: "e", lastModified: new Date().toISOString(), contentType: "x", userMetadata: {}, headers: {} });
}
async function read(store: Store, key: string): Promise<string | undefined> {
  const o = await store.openRead("bkt", key);
  if (!o) return undefined;
  if (o.bytes) return o.bytes.toString();
  const out: Buffer[] = [];
  for await (const c of o.stream!) out.push(c as Buffer);
  return Buffer.concat(out).toString();
}

describe("the store", () => {
  it("names files by random ids only: a ../ key, a slash-laden key or a 1024-byte key is just data", async () => {
    const { dir, store } = await freshStore();
    const keys = ["../../../../etc/imgfn-pwned", "a/b/../../c", "/absolute/path", `${"é".repeat(512)}`];
    for (const k of keys) await put(store, k, `body ${k}`);
    for (const k of keys) expect(await read(store, k)).toBe(`body ${k}`);
    const files = await footprint(dir);
    expect(files.every((f) => f.startsWith(join(dir, "data", "buckets", "bkt")))).toBe(true);
    // small objects share one segment, named by a random id like every data file
    const data = await readdir(join(dir, "data", "buckets", "bkt", "data"));
    expect(data).toHaveLength(1);
    expect(data.every((f) => /^[0-9a-f]{24}$/.test(f))).toBe(true);
  });

  it("keeps committed objects across a restart, drops bytes that were never committed and a journal line cut short", async () => {
    const { dir, store } = await freshStore();
    await put(store, "kept", "kept bytes");
    await put(store, "replaced", "v1");
    await put(store, "replaced", "v2");
    await put(store, "gone", "x");
    await store.delete("bkt", "gone");
    await store.writeTemp("bkt", chunks("never committed"), 1e9); // the process stops here
    await store.close();
    const bdir = join(dir, "data", "buckets", "bkt");
    await appendFile(join(bdir, "objects.jsonl"), '{"put":{"key":"torn","si'); // a crash mid-line
    const again = await Store.open(join(dir, "data"));
    expect(await read(again, "kept")).toBe("kept bytes");
    expect(await read(again, "replaced")).toBe("v2");
    expect(await read(again, "gone")).toBeUndefined();
    expect(await read(again, "torn")).toBeUndefined();
    // uncommitted bytes were never written: the one segment holds the four committed bodies
    const data = await readdir(join(bdir, "data"));
    expect(data).toHaveLength(1);
    expect((await stat(join(bdir, "data", data[0]))).size).toBe("kept bytes".length + "v1".length + "v2".length + "x".length);
    await again.close();
  });

  it("compacts a segment that is mostly dead at start, and removes one that is all dead as soon as it is", async () => {
    const segmentBytes = 1000;
    const { dir, store } = await freshStore({ segmentBytes });
    const bdir = join(dir, "data", "buckets", "bkt");
    const body = (i: number, v = 1) => `${String(i).padStart(3, "0")}:${"x".repeat(90)}:v${v}`; // 97 bytes
    for (let i = 0; i < 30; i++) await put(store, `k${i}`, body(i)); // three segments (10 objects each)
    expect(await readdir(join(bdir, "data"))).toHaveLength(3);
    // every object of the first segment deleted: that file goes at once
    for (let i = 0; i < 10; i++) await store.delete("bkt", `k${i}`);
    expect(await readdir(join(bdir, "data"))).toHaveLength(2);
    // most of the second replaced: dead bytes until the next start
    for (let i = 10; i < 18; i++) await put(store, `k${i}`, body(i, 2));
    await store.close();
    const again = await Store.open(join(dir, "data"), { segmentBytes });
    const live = new Map<string, string>();
    for (let i = 10; i < 30; i++) live.set(`k${i}`, body(i, i < 18 ? 2 : 1));
    for (const [k, v] of live) expect(await read(again, k), k).toBe(v);
    expect(await read(again, "k3")).toBeUndefined();
    // no byte on disk left over from a dead object
    let onDisk = 0;
    for (const f of await readdir(join(bdir, "data"))) onDisk += (await stat(join(bdir, "data", f))).size;
    expect(onDisk).toBe([...live.values()].reduce((n, v) => n + v.length, 0));
    // and the compacted places survive another restart
    await again.close();
    const third = await Store.open(join(dir, "data"), { segmentBytes });
    for (const [k, v] of live) expect(await read(third, k), k).toBe(v);
    await third.close();
  });

  it("lets a reader that opened a segment before it was compacted away read the object whole", async () => {
    const segmentBytes = 1000;
    const { dir, store: first } = await freshStore({ segmentBytes });
    for (let i = 0; i < 10; i++) await put(first, `k${i}`, `${i}`.repeat(99));
    await first.close();
    // after a restart nothing is cached: k9 is read from its segment
    const store = await Store.open(join(dir, "data"), { segmentBytes });
    const reading = await store.openRead("bkt", "k9");
    expect(reading?.stream).toBeDefined();
    for (let i = 0; i < 8; i++) await store.delete("bkt", `k${i}`);
    // filling a new segment compacts the old, mostly dead one (k8 and k9 move)
    for (let i = 0; i < 11; i++) await put(store, `n${i}`, "n".repeat(99));
    const out: Buffer[] = [];
    for await (const c of reading!.stream!) out.push(c as Buffer);
    expect(Buffer.concat(out).toString()).toBe("9".repeat(99));
    expect(await read(store, "k9")).toBe("9".repeat(99));
    expect(await read(store, "k8")).toBe("8".repeat(99));
    await store.close();
  });

  it("lets a reader that started before a replacement finish the old object, whole", async () => {
    const { store } = await freshStore();
    const big = Buffer.alloc(3 * 1024 * 1024, "a");
    await put(store, "k", big);
    const reading = await store.openRead("bkt", "k");
    await put(store, "k", Buffer.alloc(3 * 1024 * 1024, "b"));
    const out: Buffer[] = [];
    for await (const c of reading!.stream!) out.push(c as Buffer);
    expect(Buffer.concat(out).equals(big)).toBe(true);
    expect((await read(store, "k"))!.slice(0, 3)).toBe("bbb");
  });

  it("refuses a body over the limit with EntityTooLarge and keeps nothing of it", async () => {
    const { dir, store } = await freshStore();
    const before = await footprint(dir);
    await expect(store.writeTemp("bkt", chunks("12345", "67890"), 8)).rejects.toMatchObject({ code: "EntityTooLarge" });
    expect(await footprint(dir)).toEqual(before);
  });

  it("refuses bucket names S3 refuses", async () => {
    const { store } = await freshStore();
    for (const name of ["..", "a", "UPPER", "with/slash", "../x", "a..b", "192.168.1.1"]) {
      await expect(store.createBucket(name), name).rejects.toMatchObject({ code: "InvalidBucketName" });
    }
  });

  it("orders keys by UTF-8 bytes, as S3 lists them", () => {
    const keys = ["b", "a", "\uffff", "😀", "é", "a/", "a0"];
    expect([...keys].sort(compareKeys)).toEqual([...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
  });
});
