/**
 * The function as it ships (the staged esbuild bundle + model files), invoked with S3's real event
 * shape against a real S3-compatible server on loopback.
 */
import { createServer, request, type Server } from "node:http";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { createHash } from "node:crypto";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { stageFunction } from "../../src/image/stage.js";
import { loadModel } from "../../src/model/spec.js";
import { startS3, type TestS3 } from "../helpers/s3.js";
import { s3Event, s3Record } from "../helpers/events.js";
import * as img from "../helpers/images.js";

let s3: TestS3;
let proxy: Server;
let inner: Server;
/** "METHOD path" of every request the function sent through the proxy. */
const seen: string[] = [];
/** Keys whose next GET is answered only after the object was replaced (a race made certain). */
const replaceDuringGet = new Map<string, () => Promise<unknown>>();
let handler: (event: unknown, context: unknown) => Promise<any>;
const ctx = () => ({ awsRequestId: randomBytes(8).toString("hex") });
const MAX_BYTES = 2_000_000;

beforeAll(async () => {
  s3 = await startS3("photos");
  // A proxy in front of the S3 server that answers 503 SlowDown for keys containing "flaky",
  // to show that transient S3 failures are thrown (so that Lambda retries). It forwards to the S3
  // handler served on a port of its own without the Host/Origin guard: the requests name the
  // proxy's Host (and are signed for it), which the guarded endpoint rightly refuses.
  inner = createServer(s3.handler);
  await new Promise<void>((r) => inner.listen(0, "127.0.0.1", r));
  const upstream = new URL(`http://127.0.0.1:${(inner.address() as any).port}`);
  // Keys containing "denied" get S3's 403 AccessDenied on GetObject/HeadObject (what S3 answers
  // for a missing key when the role lacks s3:ListBucket, or for a real permission problem);
  // listing still reaches the real server.
  proxy = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url!.includes("flaky")) {
      res.writeHead(503, { "content-type": "application/xml" });
      return res.end(`<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`);
    }
    // keys containing "vanished" answer as if the bucket had been deleted meanwhile
    if (req.url!.includes("vanished")) {
      res.writeHead(404, { "content-type": "application/xml" });
      return res.end(`<?xml version="1.0"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>photos</BucketName></Error>`);
    }
    const path = decodeURIComponent(req.url!.split("?")[0]);
    const objectKey = path.startsWith("/photos/") ? path.slice("/photos/".length) : undefined;
    if (objectKey?.includes("denied") && (req.method === "GET" || req.method === "HEAD")) {
      res.writeHead(403, { "content-type": "application/xml" });
      return res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`);
    }
    const replace = req.method === "GET" && objectKey ? replaceDuringGet.get(objectKey) : undefined;
    if (replace) replaceDuringGet.delete(objectKey!);
    const fwd = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
      if (!replace) {
        res.writeHead(up.statusCode!, up.headers);
        return up.pipe(res);
      }
      const chunks: Buffer[] = [];
      up.on("data", (c) => chunks.push(c));
      up.on("end", async () => {
        await replace(); // the old bytes reach the function only once the key holds a new object
        res.writeHead(up.statusCode!, up.headers);
        res.end(Buffer.concat(chunks));
      });
    });
    req.pipe(fwd);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const staged = await stageFunction(await loadModel(), await mkdtemp(join(tmpdir(), "imgfn-task-")), { linkNodeModules: true });
  Object.assign(process.env, s3.env, {
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${(proxy.address() as any).port}`,
    AWS_MAX_ATTEMPTS: "2",
    LAMBDA_TASK_ROOT: staged.dir,
    IMGFN_MAX_BYTES: String(MAX_BYTES),
    IMGFN_BUCKET: "photos",
  });
  ({ handler } = await import(join(staged.dir, "index.mjs")));
});
afterAll(async () => {
  await new Promise((r) => proxy?.close(r));
  inner?.closeAllConnections();
  await new Promise((r) => inner?.close(r));
  await s3?.close();
});

/** Puts the object and returns the record S3 would send for it (with the object's real ETag). */
async function upload(key: string, body: Uint8Array | string) {
  const res = await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
  return s3Record(s3.bucket, key, Buffer.byteLength(body as any), res.ETag!.replace(/"/g, ""));
}

describe("the function against a real S3 server", () => {
  it("classifies an upload whose key has spaces, +, parentheses and unicode", async () => {
    const key = "uploads/my cat (1)+ünï 猫.jpg";
    const record = await upload(key, img.catJpeg());
    expect(record.s3.object.key).toBe("uploads/my+cat+%281%29%2B%C3%BCn%C3%AF+%E7%8C%AB.jpg");
    const out = await handler(s3Event(record), ctx());
    expect(out.results).toEqual([{ key, status: "classified", outputKey: "results/my cat (1)+ünï 猫.jpg.json" }]);
    const result = await s3.getJson("results/my cat (1)+ünï 猫.jpg.json");
    expect(img.CAT_CLASSES.has(result.predictions[0].index)).toBe(true);
    expect(result.predictions).toHaveLength(5);
    expect(result.input).toMatchObject({ bucket: "photos", key, size: img.catJpeg().length });
    expect(result.input.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(result.model).toEqual({ id: "mobilenetv2-12-int8", sha256: "cc028fe6cae7bc11a4ff53cfc9b79c920e8be65ce33a904ec3e2a8f66d77f95f" });
    for (const stage of ["download", "preprocess", "inference", "total"]) expect(typeof result.timings[stage]).toBe("number");
    expect(typeof result.coldStart).toBe("boolean");
    expect(result.requestId).toMatch(/^[0-9a-f]{16}$/);
    expect(new Date(result.timestamp).getTime()).toBeGreaterThan(Date.now() - 60_000);
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "results/my cat (1)+ünï 猫.jpg.json" }));
    expect(head.ContentType).toBe("application/json");
  });

  it("handles several records in one event, and the first invocation is the only cold one", async () => {
    const a = await upload("uploads/multi/cat.jpg", img.catJpeg());
    const b = await upload("uploads/multi/espresso.jpg", img.espressoJpeg());
    const out = await handler(s3Event(a, b), ctx());
    expect(out.results.map((r: any) => r.status)).toEqual(["classified", "classified"]);
    expect((await s3.getJson("results/multi/espresso.jpg.json")).predictions[0].label).toBe("espresso");
    expect((await s3.getJson("results/multi/cat.jpg.json")).coldStart).toBe(false);
  });

  it("skips records inside the output prefix or outside the input rules, writing nothing", async () => {
    const before = await s3.list("results/");
    const own = await upload("results/loop.jpg", img.catJpeg());
    const other = await upload("elsewhere/cat.jpg", img.catJpeg());
    const txt = await upload("uploads/readme.txt", "hello");
    const out = await handler(s3Event(own, other, txt), ctx());
    expect(out.results.map((r: any) => r.status)).toEqual(["skipped", "skipped", "skipped"]);
    expect(out.results[0].reason).toMatch(/output prefix/);
    expect(await s3.list("results/")).toEqual([...before, "results/loop.jpg"].sort());
  });

  it("ignores S3's test event", async () => {
    await expect(handler({ Service: "Amazon S3", Event: "s3:TestEvent", Bucket: "photos" }, ctx())).resolves.toEqual({ results: [] });
  });

  const bad: [string, string, () => Uint8Array | Promise<Uint8Array> | string, string][] = [
    ["an empty file", "uploads/bad/empty.jpg", () => new Uint8Array(0), "EMPTY_OBJECT"],
    ["a text file named .jpg", "uploads/bad/text.jpg", () => "definitely not a jpeg\n".repeat(50), "NOT_AN_IMAGE"],
    ["a truncated JPEG", "uploads/bad/truncated.jpg", img.truncatedJpeg, "CORRUPT_IMAGE"],
    ["an SVG named .png", "uploads/bad/vector.png", () => '<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', "UNSUPPORTED_FORMAT"],
    ["an object over the size limit", "uploads/bad/huge.jpg", () => randomBytes(MAX_BYTES + 1), "OBJECT_TOO_LARGE"],
  ];
  it.each(bad)("%s gets an error result (%s is the key) and the function does not throw", async (_name, key, make, code) => {
    const record = await upload(key, await make());
    const out = await handler(s3Event(record), ctx());
    expect(out.results[0]).toMatchObject({ key, status: "error", reason: code });
    const result = await s3.getJson(key.replace("uploads/", "results/") + ".json");
    expect(result.error.code).toBe(code);
    expect(result.error.message).toEqual(expect.any(String));
    expect(result.predictions).toBeUndefined();
  });

  it("an object over the limit is refused from its headers even when the event understates its size", async () => {
    const key = "uploads/bad/liar.jpg";
    const real = await upload(key, randomBytes(MAX_BYTES + 10));
    const out = await handler(s3Event(s3Record(s3.bucket, key, 100, real.s3.object.eTag)), ctx());
    expect(out.results[0].reason).toBe("OBJECT_TOO_LARGE");
    expect((await s3.getJson("results/bad/liar.jpg.json")).input.size).toBe(MAX_BYTES + 10);
  });

  it("a 20000×20000 PNG is refused without being decoded: memory stays low", async () => {
    const bomb = img.pngBomb(20000, 20000);
    expect(bomb.length).toBeLessThan(MAX_BYTES);
    const record = await upload("uploads/bad/bomb.png", bomb);
    const rssBefore = process.memoryUsage().rss;
    const out = await handler(s3Event(record), ctx());
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    expect(out.results[0].reason).toBe("IMAGE_TOO_LARGE");
    expect((await s3.getJson("results/bad/bomb.png.json")).error.message).toMatch(/20000x20000 \(400\.0 MP\)/);
    // decoding it would need 1.2 GB for RGB pixels; refusing from the header needs next to nothing
    expect(rssGrowth).toBeLessThan(100 * 1024 * 1024);
  });

  it("a transient S3 failure (503 SlowDown) is thrown so that Lambda retries, after the other records are done", async () => {
    const good = await upload("uploads/retry/ok.jpg", img.catJpeg());
    const flaky = s3Record(s3.bucket, "uploads/retry/flaky.jpg", 1000);
    const err = await handler(s3Event(flaky, good), ctx()).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("SlowDown");
    expect(await s3.list("results/retry/")).toEqual(["results/retry/ok.jpg.json"]);
  });

  it("logs a permanent S3 error (NoSuchBucket) as one no retry helps, and a transient one as retried", async () => {
    const logged: string[] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((line: string) => void logged.push(line));
    try {
      const gone = await handler(s3Event(s3Record(s3.bucket, "uploads/vanished/cat.jpg", 1000)), ctx()).catch((e) => e);
      expect(gone.name).toBe("NoSuchBucket");
      await handler(s3Event(s3Record(s3.bucket, "uploads/retry/flaky-2.jpg", 1000)), ctx()).catch(() => {});
    } finally {
      spy.mockRestore();
    }
    const [permanent, transient] = logged.map((l) => JSON.parse(l));
    expect(permanent).toMatchObject({ level: "error", msg: "record failed (NoSuchBucket); retrying will not help", key: "uploads/vanished/cat.jpg" });
    expect(transient).toMatchObject({ level: "error", msg: "record failed; Lambda retries an asynchronous (S3) event", error: { name: "SlowDown" } });
    expect(logged.join("\n")).not.toContain("transient failure; Lambda will retry");
  });

  it("a deleted object (S3 answers NoSuchKey) is skipped, not retried", async () => {
    const out = await handler(s3Event(s3Record(s3.bucket, "uploads/gone.jpg", 10)), ctx());
    expect(out.results[0]).toMatchObject({ status: "skipped", reason: "object no longer exists" });
    expect(await s3.list("results/gone")).toEqual([]);
  });
});

describe("only the configured bucket, results that never go stale, long keys, AccessDenied", () => {
  it("a record for another bucket is skipped with a reason and never fetched", async () => {
    seen.length = 0;
    const out = await handler(s3Event(s3Record("someone-elses-bucket", "uploads/cat.jpg", 1000)), ctx());
    expect(out.results[0]).toMatchObject({ status: "skipped", reason: expect.stringMatching(/not the configured bucket "photos"/) });
    expect(seen.filter((r) => r.includes("someone-elses-bucket"))).toEqual([]);
    expect(seen).toEqual([]);
  });

  it("two racing uploads of different images to one key: the stored result describes the object there now", async () => {
    const key = "uploads/race/pet.jpg";
    const first = await upload(key, img.catJpeg());
    const second = await upload(key, img.espressoJpeg());
    // both events are delivered, in either order, even at once
    const [a, b] = await Promise.all([handler(s3Event(first), ctx()), handler(s3Event(second), ctx())]);
    expect(a.results[0]).toMatchObject({ status: "skipped", reason: expect.stringMatching(/^superseded/) });
    expect(b.results[0]).toMatchObject({ status: "classified" });
    const late = await handler(s3Event(first), ctx()); // the older event arriving last
    expect(late.results[0].reason).toMatch(/^superseded/);
    const result = await s3.getJson("results/race/pet.jpg.json");
    expect(result.input.etag).toBe(second.s3.object.eTag);
    expect(result.predictions[0].label).toBe("espresso");
  });

  it("an object replaced while the function classifies it gets the result of the new object, not the old", async () => {
    const key = "uploads/race/swap.jpg";
    const first = await upload(key, img.catJpeg());
    let replacedEtag = "";
    replaceDuringGet.set(key, async () => {
      const res = await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: img.espressoJpeg() }));
      replacedEtag = res.ETag!.replace(/"/g, "");
    });
    const out = await handler(s3Event(first), ctx()); // read the cat; the espresso lands meanwhile
    expect(out.results[0].status).toBe("classified");
    const result = await s3.getJson("results/race/swap.jpg.json");
    expect(replacedEtag).not.toBe(first.s3.object.eTag);
    expect(result.input.etag).toBe(replacedEtag);
    expect(result.predictions[0].label).toBe("espresso");
  });

  it("a key whose result key would pass S3's 1024-byte limit gets KEY_TOO_LONG at a short key, once, with no retry", async () => {
    // 1020 bytes (S3 allows the key itself), folders of 200 bytes so the local server can store it
    const key = "uploads/" + Array.from({ length: 5 }, (_, i) => String(i).repeat(199) + "/").join("") + "x".repeat(1020 - 8 - 1000 - 4) + ".jpg";
    expect(Buffer.byteLength(key)).toBe(1020);
    const record = await upload(key, img.catJpeg());
    const out = await handler(s3Event(record), ctx());
    const sha = createHash("sha256").update(key).digest("hex");
    expect(out.results[0]).toEqual({ key, status: "error", outputKey: `results/_long-keys/${sha}.json`, reason: "KEY_TOO_LONG" });
    const result = await s3.getJson(`results/_long-keys/${sha}.json`);
    expect(result.error.code).toBe("KEY_TOO_LONG");
    expect(result.input.key).toBe(key); // the full source key
    expect(result.predictions).toBeUndefined();
    // its own result never triggers anything: it is inside the output prefix
    expect((await handler(s3Event(s3Record(s3.bucket, `results/_long-keys/${sha}.json`, 10)), ctx())).results[0].status).toBe("skipped");
  });

  it("403 AccessDenied for a key that is not in the bucket (no s3:ListBucket) is the same 'object no longer exists' skip", async () => {
    const out = await handler(s3Event(s3Record(s3.bucket, "uploads/denied/deleted.jpg", 10)), ctx());
    expect(out.results[0]).toMatchObject({ status: "skipped", reason: "object no longer exists" });
    expect(seen.some((r) => r.startsWith("GET /photos") && r.includes("list-type=2") && r.includes("denied"))).toBe(true);
  });

  it("403 AccessDenied for an object that exists is a permission problem: thrown (retried, then kept for imgfn retry)", async () => {
    const record = await upload("uploads/denied/present.jpg", img.catJpeg());
    const err = await handler(s3Event(record), ctx()).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("AccessDenied");
    expect(err.message).toMatch(/s3:GetObject on s3:\/\/photos\/uploads\/denied\/present\.jpg although the object exists.*imgfn retry/);
    expect(await s3.list("results/denied/")).toEqual([]);
  });
});
