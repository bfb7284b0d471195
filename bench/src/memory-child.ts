/** A fresh warm worker for one image size: init, 20 invocations, then peak RSS from /proc. */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { loadFunction } from "./fn.js";

const [file] = process.argv.slice(2);
const status = () => readFileSync("/proc/self/status", "utf8");
const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status())![1]) / 1024;
const fn = await loadFunction(process.env.LAMBDA_TASK_ROOT!, {});
const afterInit = kb("VmHWM");
const bytes = readFileSync(file);
const key = `uploads/${basename(file)}`;
const durations: number[] = [];
for (let i = 0; i < 20; i++) durations.push((await fn.invoke(process.env.BENCH_BUCKET!, key, bytes.length)).total);
process.stdout.write(JSON.stringify({ afterInitMb: afterInit, peakMb: kb("VmHWM"), rssMb: kb("VmRSS") }) + "\n");
process.exit(0);
