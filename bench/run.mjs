#!/usr/bin/env node
// `npm run bench` (= npm run build && node bench/run.mjs [part ...]).
// Bundles bench/src/*.ts into bench/.work/ (Node 20 cannot run TypeScript), makes the images and
// stages the function once, runs each part in its own process (so no part's JIT state, heap or
// native threads leak into another's timings), then writes BENCHMARKS.md and bench/results.json.
// With part names, only those parts run; the report merges them with earlier parts' results.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const work = join(root, "bench", ".work");
const out = join(work, "out");
const ALL = ["warm", "cold", "threads", "memory", "throughput", "deploy", "layers", "python"];
const requested = process.argv.slice(2);
for (const p of requested) if (!ALL.includes(p)) throw new Error(`unknown part "${p}" (parts: ${ALL.join(", ")})`);
const parts = requested.length ? requested : ALL;

const load = loadavg()[0];
if (load >= 0.7) console.error(`bench: load average is ${load.toFixed(2)}; other work on this machine will show in the timings`);

mkdirSync(out, { recursive: true });
if (!requested.length) for (const f of readdirSync(out)) rmSync(join(out, f));
const entries = readdirSync(join(root, "bench", "src")).filter((f) => f.endsWith(".ts")).map((f) => join(root, "bench", "src", f));
await build({ entryPoints: entries, outdir: work, bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", outExtension: { ".js": ".mjs" }, logLevel: "warning" });

// Quiet children: no SDK end-of-support banner in stderr.
const env = { ...process.env, AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: "1", NODE_NO_WARNINGS: "1" };
const node = (script, args = []) => spawnSync(process.execPath, [join(work, script), ...args], { cwd: root, env, stdio: ["ignore", "inherit", "pipe"], encoding: "utf8" });

const started = Date.now();
const prep = node("prepare.mjs");
process.stderr.write(prep.stderr ?? "");
if (prep.status !== 0) process.exit(prep.status ?? 1);
if (!requested.length) writeFileSync(join(out, "run.json"), JSON.stringify({ loadAverageAtStart: Math.round(load * 100) / 100 }) + "\n");

let failures = 0;
for (const part of parts) {
  const t0 = Date.now();
  console.error(`bench: ${part}`);
  rmSync(join(out, `${part}.error.txt`), { force: true });
  const r = node(`${part}.mjs`);
  process.stderr.write(r.stderr ?? "");
  if (r.status !== 0) {
    failures++;
    const reason = (r.stderr || `exit ${r.status}`).trim().split("\n").filter(Boolean).slice(-3).join(" | ");
    writeFileSync(join(out, `${part}.error.txt`), reason + "\n");
    console.error(`bench: ${part} FAILED: ${reason}`);
  } else console.error(`bench: ${part} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
const report = node("report.mjs");
process.stderr.write(report.stderr ?? "");
console.error(`bench: finished in ${((Date.now() - started) / 1000).toFixed(0)} s${failures ? `, ${failures} part(s) failed` : ""}`);
process.exit(report.status || (failures ? 1 : 0));
