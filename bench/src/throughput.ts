/**
 * Item 6: a burst of 200 uploads through the embedded stack (the local S3 server + trigger rules +
 * Lambda emulator with worker processes running the staged function) at concurrency 1 and 2, the
 * uploads coming from a separate process (uploader-child.ts).
 * Latency is upload start → the invocation that wrote the result has finished; throughput is
 * images / (last result − first upload). Workers are started (cold) before the burst, so the
 * burst measures the warm pipeline; cold start is item 2.
 * Where the stack process's CPU goes, two more measurements:
 *  - the same burst at concurrency 2 with bench/fixtures/s3-io in place of the function: the same
 *    S3 calls per image without the inference competing for the cores;
 *  - the HTTP floor: the four requests of an image (requests-child.ts) 200 times in sequence,
 *    against the local S3 server alone and against a node:http server that does nothing.
 */
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { DEFAULTS, type Config } from "../../src/config.js";
import { startLocalS3 } from "../../src/local/s3.js";
import { startLocalStack, localS3Client } from "../../src/local/stack.js";
import { ROOT, TASK, WORK, log, r2, readImages, stats, writePart } from "./common.js";

const BURST = Number(process.env.BENCH_BURST ?? 200);
const UPLOADERS = 4;
const images = await readImages();
const image = images.find((i) => i.id === "jpeg-0.5mp")!;
const bytes = readFileSync(image.file);

/** CPU time (user + system) of a process so far, from /proc (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The function's S3 traffic without the model (see the header). */
const S3_IO_TASK = join(ROOT, "bench", "fixtures", "s3-io");

async function burst(concurrency: number, taskRoot = TASK) {
  const load0 = loadavg()[0];
  const root = await mkdtemp(join(tmpdir(), "imgfn-bench-stack-"));
  const config: Config = { ...DEFAULTS, app: "bench", root, concurrency, retries: 0 } as Config;
  const stack = await startLocalStack({ config, taskRoot, root });
  const s3 = localS3Client(stack.s3Endpoint, stack.region);
  const done = new Map<string, number>();
  stack.emulator.on("invocation", (rec: any) => {
    for (const r of rec.result?.results ?? []) if (r.status === "classified") done.set(r.key, performance.timeOrigin + performance.now());
  });
  const put = (key: string) => s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: bytes, ContentType: "image/jpeg" }));
  try {
    // start every worker (cold) before the burst
    await Promise.all(Array.from({ length: concurrency * 2 }, (_, i) => put(`uploads/warm-${i}.jpg`)));
    await stack.idle();
    const pids = stack.emulator.pids();
    const workerCpu0 = pids.map(cpuMs);
    const keys = Array.from({ length: BURST }, (_, i) => `uploads/burst-${String(i).padStart(3, "0")}.jpg`);
    // the uploaders run in their own process (as `imgfn upload` does against `imgfn dev`)
    const child = fork(join(WORK, "uploader-child.mjs"), [stack.s3Endpoint, stack.region, stack.bucket, image.file, String(UPLOADERS), ...keys], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const ready = new Promise<{ started: Record<string, number>; uploadedAll: number; cpuMs: number }>((resolve, reject) => {
      child.once("message", (m: any) => resolve(m));
      child.once("exit", (code) => reject(new Error(`the uploader process exited (${code}) before reporting`)));
    });
    const mainCpu0 = process.cpuUsage();
    const switches0 = process.resourceUsage();
    const uploads = await ready;
    const started = new Map(Object.entries(uploads.started));
    const uploadedAll = uploads.uploadedAll;
    await stack.idle();
    const mainCpu = process.cpuUsage(mainCpu0);
    const switches1 = process.resourceUsage();
    const workerCpu = pids.map(cpuMs).reduce((n, v, i) => n + v - workerCpu0[i], 0);
    const missing = keys.filter((k) => !done.has(k));
    if (missing.length) throw new Error(`${missing.length} results missing (e.g. ${missing[0]})`);
    const first = Math.min(...started.values());
    const last = Math.max(...keys.map((k) => done.get(k)!));
    const latency = keys.map((k) => done.get(k)! - started.get(k)!);
    const result = {
      concurrency,
      images: BURST,
      // other work on the 2 cores shows in these timings (concurrency 2 more than 1)
      loadAverageAtStart: r2(load0),
      imagesPerSecond: r2(BURST / ((last - first) / 1000)),
      uploadSeconds: r2((uploadedAll - first) / 1000),
      latency: stats(latency),
      workers: stack.emulator.pids().length,
      // where the CPU went: this process (local S3 server, trigger rules, emulator, logs), the uploaders' process, the workers
      // how often the stack process was woken (voluntary) or preempted (involuntary) per image
      contextSwitchesPerImage: {
        voluntary: r2((switches1.voluntaryContextSwitches - switches0.voluntaryContextSwitches) / BURST),
        involuntary: r2((switches1.involuntaryContextSwitches - switches0.involuntaryContextSwitches) / BURST),
      },
      cpuMsPerImage: { stackProcess: r2((mainCpu.user + mainCpu.system) / 1000 / BURST), uploaders: r2(uploads.cpuMs / BURST), workers: r2(workerCpu / BURST) },
    };
    log(`throughput c=${concurrency}: ${result.imagesPerSecond} images/s, latency p50 ${result.latency.median} ms p95 ${result.latency.p95} ms`);
    return result;
  } finally {
    s3.destroy();
    await stack.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** This process's CPU (ms) over the requests of `images` images made by requests-child.ts against `endpoint`. */
async function serverCpu(endpoint: string, bucket: string, images: number): Promise<number> {
  const child = fork(join(WORK, "requests-child.mjs"), [endpoint, bucket, image.file, String(images)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  let cpu0 = process.cpuUsage();
  let used: NodeJS.CpuUsage | undefined;
  child.on("message", (m) => {
    if (m === "start") cpu0 = process.cpuUsage();
    else used = process.cpuUsage(cpu0);
    child.send("go");
  });
  const code = await exited;
  if (code !== 0 || !used) throw new Error(`the requests process exited (${code}) before it finished`);
  return (used.user + used.system) / 1000;
}

/** The four requests of an image against the local S3 server alone, and against node:http doing nothing. */
async function requestFloor(images = BURST) {
  const root = await mkdtemp(join(tmpdir(), "imgfn-bench-floor-"));
  const local = await startLocalS3({ directory: root, buckets: ["bench-floor"] });
  // the same responses' shape (an ETag, the photo for a GET), and no work at all
  const bare = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.method === "GET") {
        res.writeHead(200, { etag: '"floor"', "content-type": "image/jpeg", "content-length": String(bytes.length) });
        res.end(bytes);
      } else {
        res.writeHead(200, { etag: '"floor"', "content-length": req.method === "HEAD" ? String(bytes.length) : "0" });
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
  try {
    const localMs = await serverCpu(local.endpoint, "bench-floor", images);
    const bareMs = await serverCpu(`http://127.0.0.1:${(bare.address() as AddressInfo).port}`, "bench-floor", images);
    return { images, requestsPerImage: 4, serverCpuMsPerImage: { localS3: r2(localMs / images), nodeHttpDoingNothing: r2(bareMs / images) } };
  } finally {
    bare.closeAllConnections();
    await new Promise((resolve) => bare.close(resolve));
    await local.close();
    await rm(root, { recursive: true, force: true });
  }
}

const c1 = await burst(1);
const c2 = await burst(2);
const withoutModel = await burst(2, S3_IO_TASK);
const floor = await requestFloor();
log(`stack CPU per image: ${c2.cpuMsPerImage.stackProcess} ms with the model, ${withoutModel.cpuMsPerImage.stackProcess} ms without; the 4 requests alone: local S3 ${floor.serverCpuMsPerImage.localS3} ms, node:http doing nothing ${floor.serverCpuMsPerImage.nodeHttpDoingNothing} ms`);
// With 2 cores, the stack process and the workers share the CPU: the best possible rate is
// cores / (CPU per image), whatever the concurrency.
const cpuPerImage = c2.cpuMsPerImage.stackProcess + c2.cpuMsPerImage.uploaders + c2.cpuMsPerImage.workers;
await writePart("throughput", {
  image: image.id,
  uploaders: UPLOADERS,
  runs: [c1, c2],
  speedup: r2(c2.imagesPerSecond / c1.imagesPerSecond),
  cores: cpus().length,
  cpuBoundImagesPerSecond: r2((cpus().length * 1000) / cpuPerImage),
  withoutModel,
  floor,
});
process.exit(0);
