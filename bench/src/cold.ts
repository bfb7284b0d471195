/** Item 2: cold start, median of 10 fresh worker processes, and what each piece costs. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startS3 } from "../../test/helpers/s3.js";
import { ROOT, TASK, WORK, childEnv, log, r1, runNode, stats, writePart } from "./common.js";

const N = Number(process.env.BENCH_COLD_RUNS ?? 10);
const s3 = await startS3("cold");
const bytes = readFileSync(join(ROOT, "samples", "cat.jpg"));
await s3.put("uploads/cat.jpg", bytes);
const env = childEnv({ ...s3.env, LAMBDA_TASK_ROOT: TASK, BENCH_BUCKET: s3.bucket, BENCH_KEY: "uploads/cat.jpg", BENCH_SIZE: String(bytes.length) });
const script = join(WORK, "cold-child.mjs");

const fn: any[] = [];
const parts: any[] = [];
for (let i = 0; i < N; i++) {
  // alternate the two kinds so that both see the same machine state
  fn.push(await runNode(script, ["function"], env, { cwd: TASK }));
  parts.push(await runNode(script, ["breakdown"], env, { cwd: TASK }));
}
await s3.close();
const col = (rows: any[], k: string) => rows.map((r) => r[k]);
const result = {
  runs: N,
  image: "samples/cat.jpg",
  toReady: stats(col(fn, "ready")),
  toFirstResult: stats(col(fn, "first")),
  firstEvent: stats(col(fn, "firstEvent")),
  breakdown: {
    nodeBootstrap: stats(col(parts, "bootstrap")),
    sharp: stats(col(parts, "sharp")),
    onnxruntime: stats(col(parts, "onnxruntime")),
    functionBundle: stats(col(parts, "bundle")),
    modelSession: stats(col(parts, "session")),
    ready: stats(col(parts, "ready")),
  },
  bundleBytes: readFileSync(join(TASK, "index.mjs")).length,
};
log(`cold: ready ${result.toReady.median} ms, first result ${result.toFirstResult.median} ms (bootstrap ${result.breakdown.nodeBootstrap.median}, sharp ${result.breakdown.sharp.median}, ort ${result.breakdown.onnxruntime.median}, bundle ${result.breakdown.functionBundle.median}, session ${result.breakdown.modelSession.median})`);
await writePart("cold", result);
process.exit(0);
void r1;
