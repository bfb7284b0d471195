/**
 * Item 7: peak RSS of a warm worker per image size (a fresh process per size, as Lambda would
 * report "Max Memory Used"), the smallest memory setting that fits with headroom, and the cost.
 */
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { startS3 } from "../../test/helpers/s3.js";
import { TASK, WORK, childEnv, log, r1, readImages, runNode, writePart } from "./common.js";

const s3 = await startS3("memory");
const images = await readImages();
const rows = [];
for (const img of images) {
  await s3.put(`uploads/${basename(img.file)}`, readFileSync(img.file));
  const samples = [];
  for (let i = 0; i < 3; i++) samples.push(await runNode(join(WORK, "memory-child.mjs"), [img.file], childEnv({ ...s3.env, LAMBDA_TASK_ROOT: TASK, BENCH_BUCKET: s3.bucket }), { cwd: TASK }));
  const peak = Math.max(...samples.map((s) => s.peakMb));
  rows.push({ image: img.id, size: `${img.width}×${img.height}`, afterInitMb: r1(Math.max(...samples.map((s) => s.afterInitMb))), peakMb: r1(peak) });
  log(`memory ${img.id}: peak ${r1(peak)} MB`);
}
await s3.close();
await writePart("memory", { processesPerImage: 3, invocationsPerProcess: 20, rows });
process.exit(0);
