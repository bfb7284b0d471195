/**
 * One fresh worker process for the cold-start measurement. performance.now() counts from the
 * process's time origin, so the first reading is Node's own bootstrap.
 *   ready     : import the staged index.mjs, say so, exit
 *   function  : import the staged index.mjs (init, with the model session) → ready; one event → first result
 *   breakdown : the same, step by step: sharp, onnxruntime-node, the function bundle (AWS SDK +
 *               handler, with IMGFN_PRELOAD=0), then the model session
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const bootstrap = performance.now();
const mode = process.argv[2];
const taskRoot = process.env.LAMBDA_TASK_ROOT!;
const indexUrl = pathToFileURL(join(taskRoot, "index.mjs")).href;

if (mode === "ready") {
  // for a parent timing spawn → ready the same way for every runtime (bench/src/python.ts)
  await import(indexUrl);
  process.stdout.write(JSON.stringify({ ready: performance.now() }) + "\n");
} else if (mode === "function") {
  const mod = await import(indexUrl);
  const ready = performance.now();
  const key = process.env.BENCH_KEY!;
  const { s3Event, s3Record } = await import("../../test/helpers/events.js");
  const before = performance.now();
  const out = await mod.handler(s3Event(s3Record(process.env.BENCH_BUCKET!, key, Number(process.env.BENCH_SIZE))), { awsRequestId: "cold" });
  const first = performance.now();
  if (out.results?.[0]?.status !== "classified") throw new Error(JSON.stringify(out));
  process.stdout.write(JSON.stringify({ bootstrap, ready, first: ready + (first - before), firstEvent: first - before }) + "\n");
} else {
  const t0 = performance.now();
  await import("sharp");
  const t1 = performance.now();
  await import("onnxruntime-node");
  const t2 = performance.now();
  process.env.IMGFN_PRELOAD = "0";
  const mod = await import(indexUrl);
  const t3 = performance.now();
  await mod.classifier();
  const t4 = performance.now();
  process.stdout.write(
    JSON.stringify({ bootstrap, sharp: t1 - t0, onnxruntime: t2 - t1, bundle: t3 - t2, session: t4 - t3, ready: t4 }) + "\n",
  );
}
process.exit(0);
