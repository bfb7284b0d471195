/**
 * Collects the parts' results (bench/.work/out/*.json) into bench/results.json and BENCHMARKS.md:
 * the machine, every figure with the command that produced it, and the targets.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { OUT, ROOT, r1, r2 } from "./common.js";

const read = (part: string): any => {
  const file = join(OUT, `${part}.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : undefined;
};
const failed = (part: string): string | undefined => {
  const file = join(OUT, `${part}.error.txt`);
  return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
};

const run = read("run") ?? {};
const warm = read("warm");
const cold = read("cold");
const threads = read("threads");
const memory = read("memory");
const throughput = read("throughput");
const deploy = read("deploy");
const layers = read("layers");
const python = read("python");

const git = (args: string[]) => {
  try {
    return execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
};
const machine = {
  cpu: cpus()[0]?.model ?? "unknown",
  cores: cpus().length,
  memoryGb: r1(totalmem() / 1024 ** 3),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  date: new Date().toISOString(),
  commit: git(["rev-parse", "--short", "HEAD"]),
  loadAverageAtStart: run.loadAverageAtStart ?? null,
  loadAverageAtEnd: r2(loadavg()[0]),
};

// ---- pricing (us-east-1 list prices, on-demand; the assumption is stated in the report) -----
const PRICE = { x86_64: 0.0000166667, arm64: 0.0000133334, perRequest: 0.2 / 1e6 };
const HEADROOM = 1.25;
/** Lambda gives a function one full vCPU at 1769 MB, proportionally less below. */
const FULL_VCPU_MB = 1769;

function lambdaSetting(peakMb: number): number {
  return Math.max(128, Math.ceil((peakMb * HEADROOM) / 64) * 64);
}

const warmRow = (id: string) => warm?.images.find((i: any) => i.image === id);

let costs: any;
if (memory && warm) {
  const peak = Math.max(...memory.rows.map((r: any) => r.peakMb));
  const setting = lambdaSetting(peak);
  const perImage = memory.rows.map((r: any) => {
    const w = warmRow(r.image);
    const ms = w.stages.total.median;
    const cost = (durationMs: number, price: number) => 1000 * (Math.ceil(durationMs) / 1000) * (setting / 1024) * price + 1000 * PRICE.perRequest;
    const scaled = (ms * FULL_VCPU_MB) / setting;
    return {
      image: r.image,
      durationMs: ms,
      x86_64: r2(cost(ms, PRICE.x86_64) * 1e6) / 1e6,
      arm64: r2(cost(ms, PRICE.arm64) * 1e6) / 1e6,
      cpuShareDurationMs: r1(scaled),
      x86_64CpuShare: r2(cost(scaled, PRICE.x86_64) * 1e6) / 1e6,
    };
  });
  costs = { peakMb: peak, headroom: HEADROOM, settingMb: setting, prices: PRICE, perImage };
}

// ---- targets --------------------------------------------------------------------------------
const targets: Record<string, { value: number | null; limit: number; met: boolean; unit: string; note?: string }> = {};
const target = (name: string, value: number | undefined, limit: number, cmp: "<=" | ">=", unit: string, extra: boolean = true, note?: string) => {
  if (value === undefined || Number.isNaN(value)) {
    targets[name] = { value: null, limit, met: false, unit, note: note ?? "not measured" };
    return;
  }
  targets[name] = { value, limit, met: (cmp === "<=" ? value <= limit : value >= limit) && extra, unit, ...(note ? { note } : {}) };
};

const big = warmRow("jpeg-12mp");
target("preprocess12MpSpeedupOverNaive", big?.preprocessSpeedup, 3, ">=", "×", big?.top1.agree === true, big ? `same top-1: ${big.top1.agree} (${big.top1.functionLabel})` : undefined);
const half = warmRow("jpeg-0.5mp");
target("warmExcludingS3OverModelOnly_0_5MpJpeg", half?.excludingS3OverModelOnly, 2.5, "<=", "×");
target("coldStartToReadyMs", cold?.toReady.median, 400, "<=", "ms");
const x86 = layers?.rows.find((r: any) => r.architecture === "x86_64");
let layerRatio: number | undefined;
if (x86) {
  const appOnly = x86.layers.filter((l: any) => l.kind !== "node_modules");
  const naiveU = x86.naiveNodeModules.uncompressed + appOnly.reduce((n: number, l: any) => n + l.uncompressed, 0);
  const naiveC = x86.naiveNodeModules.compressed + appOnly.reduce((n: number, l: any) => n + l.compressed, 0);
  x86.naiveTotal = { uncompressed: naiveU, compressed: naiveC };
  x86.ratio = { uncompressed: r2((100 * x86.total.uncompressed) / naiveU), compressed: r2((100 * x86.total.compressed) / naiveC) };
  layerRatio = Math.max(x86.ratio.uncompressed, x86.ratio.compressed);
}
for (const row of layers?.rows ?? []) {
  if (row.ratio) continue;
  const appOnly = row.layers.filter((l: any) => l.kind !== "node_modules");
  const naiveU = row.naiveNodeModules.uncompressed + appOnly.reduce((n: number, l: any) => n + l.uncompressed, 0);
  const naiveC = row.naiveNodeModules.compressed + appOnly.reduce((n: number, l: any) => n + l.compressed, 0);
  row.naiveTotal = { uncompressed: naiveU, compressed: naiveC };
  row.ratio = { uncompressed: r2((100 * row.total.uncompressed) / naiveU), compressed: r2((100 * row.total.compressed) / naiveC) };
}
target("appLayersPercentOfNaive_x86_64", layerRatio, 25, "<=", "%", true, "the larger of the compressed and uncompressed ratios");
const step = (name: string) => deploy?.steps.find((s: any) => s.step === name);
target("handlerOnlyRebuildUploadBytes", step("handler-only change")?.uploadedBytes, 1_000_000, "<=", "bytes");
target("noChangeRebuildUploadBytes", step("no change after it")?.uploadedBytes ?? step("no change")?.uploadedBytes, 0, "<=", "bytes");
target("throughputConcurrency2OverConcurrency1", throughput?.speedup, 1.6, ">=", "×");
const stackCpu = throughput ? Math.max(...throughput.runs.map((r: any) => r.cpuMsPerImage.stackProcess)) : undefined;
target("stackProcessCpuMsPerImage", stackCpu, 5, "<=", "ms", true, "the larger of the two runs; the uploaders run in a process of their own");

// ---- against the Python function (item 8) ----------------------------------------------------
const pyWarm = (id: string) => python?.warm.find((w: any) => w.image === id);
target("warmVsPython_0_5MpJpeg", pyWarm("jpeg-0.5mp")?.speedupExcludingS3, 1.3, ">=", "× faster");
target("warmVsPython_12MpJpeg", pyWarm("jpeg-12mp")?.speedupExcludingS3, 5, ">=", "× faster");
target("coldStartVsPython", python ? r2(python.cold.imgfn.median / python.cold.python.median) : undefined, 1.0, "<=", "×");
const peakOf = (k: string) => (python ? Math.max(...python.memory.map((m: any) => m[k])) : NaN);
target("peakRssVsPython", python ? r2(peakOf("imgfnPeakMb") / peakOf("pythonPeakMb")) : undefined, 0.9, "<=", "×");
// what each must ship besides the model: imgfn's node_modules + handler layers, Python's site-packages
const appWithoutModel = x86 ? x86.layers.filter((l: any) => l.kind !== "model").reduce((n: number, l: any) => n + l.uncompressed, 0) : undefined;
target("appLayersVsPythonDeps", appWithoutModel !== undefined && python ? r2(appWithoutModel / python.deps.pythonShippedBytes) : undefined, 0.5, "<=", "×", true, "uncompressed, the model excluded on both sides");
const exact = python?.fidelity.exact;
target("top1AgreementWithReference", exact?.top1Agreement, 0.99, ">=", "", true, exact ? `parity corpus, ${exact.files} files, fidelity "exact" (the default)` : undefined);
target("meanAbsDeltaTop1", exact?.meanAbsDeltaTop1, 0.01, "<=", "", true, exact ? `max ${exact.maxAbsDeltaTop1}` : undefined);
const badRatio = python ? Math.max(python.badInput.worstTime.ratio, python.badInput.worstMemory.ratio) : undefined;
target("badInputWorstCaseOverNormal", badRatio, 2, "<=", "×", true, python ? `time ${python.badInput.worstTime.ratio}× (${python.badInput.worstTime.input}), memory ${python.badInput.worstMemory.ratio}× (${python.badInput.worstMemory.input})` : undefined);

let pythonCosts: any;
if (python && memory && warm) {
  const settingFor = (peak: number) => lambdaSetting(peak);
  const imgfnSetting = settingFor(peakOf("imgfnPeakMb"));
  const pythonSetting = settingFor(peakOf("pythonPeakMb"));
  const per1000 = (ms: number, setting: number) => r2((1000 * (Math.ceil(ms) / 1000) * (setting / 1024) * PRICE.x86_64 + 1000 * PRICE.perRequest) * 1e6) / 1e6;
  pythonCosts = {
    imgfnSettingMb: imgfnSetting,
    pythonSettingMb: pythonSetting,
    perImage: python.warm.map((w: any) => ({ image: w.image, imgfn: per1000(w.imgfn.total.median, imgfnSetting), python: per1000(w.python.total.median, pythonSetting) })),
  };
}

const results = { machine, warm, cold, threads, memory: memory ? { ...memory, lambda: costs } : undefined, throughput, deploy, layers, python: python ? { ...python, lambda: pythonCosts } : undefined, targets, failures: Object.fromEntries(["warm", "cold", "threads", "memory", "throughput", "deploy", "layers", "python"].map((p) => [p, failed(p)]).filter(([, v]) => v)) };
writeFileSync(join(ROOT, "bench", "results.json"), JSON.stringify(results, null, 2) + "\n");

// ---- BENCHMARKS.md ---------------------------------------------------------------------------
const md: string[] = [];
const table = (head: string[], rows: (string | number)[][]) => {
  md.push(`| ${head.join(" | ")} |`, `| ${head.map((h, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`);
  for (const r of rows) md.push(`| ${r.join(" | ")} |`);
  md.push("");
};
const ms = (s: { median: number; p95: number }) => `${s.median} / ${s.p95}`;
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
const cmd = (part: string) => `Command: \`npm run bench\` (this part alone: \`npm run build && node bench/run.mjs ${part}\`; source \`bench/src/${part}.ts\`).`;
const missing = (part: string) => {
  const err = failed(part);
  md.push(err ? `**Not measured in this run**: the part failed: \`${err.split("\n")[0].slice(0, 300)}\`` : "**Not measured in this run.**", "");
};

md.push(
  "# Benchmarks",
  "",
  "Generated by `npm run bench` (bench/run.mjs); every figure is in [bench/results.json](bench/results.json). Ratios are measured side by side in the same run. The suite has no timing assertions; this file is the record.",
  "",
  "## Machine",
  "",
);
table(["", ""], [
  ["CPU", `${machine.cpu}`],
  ["Cores", machine.cores],
  ["Memory", `${machine.memoryGb} GB`],
  ["Node.js", machine.node],
  ["Platform", machine.platform],
  ["Date", machine.date],
  ["Commit", machine.commit],
  ["Load average (1 min) at start / end", `${machine.loadAverageAtStart ?? "?"} / ${machine.loadAverageAtEnd}`],
]);

md.push("## Targets", "");
const fmt = (t: { value: number | null; unit: string }) => (t.value === null ? "—" : t.unit === "bytes" ? `${t.value.toLocaleString("en-US")} bytes` : `${t.value} ${t.unit}`);
const names: Record<string, string> = {
  preprocess12MpSpeedupOverNaive: "12 MP JPEG preprocessing vs naive (same top-1)",
  warmExcludingS3OverModelOnly_0_5MpJpeg: "Warm function time excl. S3 ÷ model-only inference, 0.5 MP JPEG",
  coldStartToReadyMs: "Cold start to ready (median of fresh processes)",
  appLayersPercentOfNaive_x86_64: "App layers as % of a naive install, x86_64",
  handlerOnlyRebuildUploadBytes: "Handler-only rebuild: bytes uploaded",
  noChangeRebuildUploadBytes: "No-change rebuild: bytes uploaded",
  throughputConcurrency2OverConcurrency1: "Local pipeline throughput, concurrency 2 ÷ 1",
  stackProcessCpuMsPerImage: "Local stack process CPU per image",
  warmVsPython_0_5MpJpeg: "Warm excl. S3 vs the Python function, 0.5 MP JPEG (Python ÷ imgfn)",
  warmVsPython_12MpJpeg: "Warm excl. S3 vs the Python function, 12 MP JPEG (Python ÷ imgfn)",
  coldStartVsPython: "Cold start to ready, imgfn ÷ Python",
  peakRssVsPython: "Peak RSS, imgfn ÷ Python",
  appLayersVsPythonDeps: "App layers (without the model) ÷ Python's installed dependencies",
  top1AgreementWithReference: "Top-1 agreement with the reference pipeline (parity corpus)",
  meanAbsDeltaTop1: "Mean |Δp(top-1)| against the reference pipeline",
  badInputWorstCaseOverNormal: "Worst bad or odd input ÷ a normal 12 MP photo (time and memory)",
};
const limits: Record<string, string> = {
  preprocess12MpSpeedupOverNaive: "≥ 3×",
  warmExcludingS3OverModelOnly_0_5MpJpeg: "≤ 2.5×",
  coldStartToReadyMs: "≤ 400 ms",
  appLayersPercentOfNaive_x86_64: "≤ 25 %",
  handlerOnlyRebuildUploadBytes: "≤ 1,000,000 bytes",
  noChangeRebuildUploadBytes: "0 bytes",
  throughputConcurrency2OverConcurrency1: "≥ 1.6×",
  stackProcessCpuMsPerImage: "≤ 5 ms",
  warmVsPython_0_5MpJpeg: "≥ 1.3×",
  warmVsPython_12MpJpeg: "≥ 5×",
  coldStartVsPython: "≤ 1.0×",
  peakRssVsPython: "≤ 0.9×",
  appLayersVsPythonDeps: "≤ 0.5×",
  top1AgreementWithReference: "≥ 0.99",
  meanAbsDeltaTop1: "≤ 0.01",
  badInputWorstCaseOverNormal: "≤ 2×",
};
table(["Target", "Value", "Limit", "Met"], Object.entries(targets).map(([k, t]) => [names[k] ?? k, fmt(t), limits[k] ?? String(t.limit), t.met ? "yes" : t.value === null ? "not measured" : "**no**"]));

const unmet = Object.entries(targets).filter(([, t]) => !t.met);
if (unmet.length) {
  md.push("### Targets not met in this run, and what limits them", "");
  for (const [k] of unmet) {
    if (k === "warmExcludingS3OverModelOnly_0_5MpJpeg" && half) {
      const floor = r2((half.fullDecodeOnly.median + half.modelOnly.median) / half.modelOnly.median);
      md.push(
        `- **${names[k]}**: ${half.stages.excludingS3.median} ms against ${half.modelOnly.median} ms for the model alone. Preprocessing takes ${half.stages.preprocess.median} ms: decoding the 866×577 JPEG alone costs ${half.fullDecodeOnly.median} ms (decode + model = ${floor}× the model), and the rest is the crop's resampling in JavaScript with Pillow's arithmetic, which the default fidelity "exact" needs so that the tensor equals the reference pipeline's (item 9). The JPEG is decoded at full resolution because any shrink-on-load changes the int8 model's answers (item 9: "fast").`,
      );
    } else if (k === "preprocess12MpSpeedupOverNaive" && big) {
      md.push(
        `- **${names[k]}**: ${big.stages.preprocess.median} ms against ${big.naivePreprocess.median} ms for the naive pipeline. Both decode the whole 12 MP JPEG (${big.fullDecodeOnly.median} ms alone): fidelity "exact" must, because the reference pipeline (Pillow) resamples the full-resolution pixels and every shrink-on-load moves the int8 model's probabilities by up to ${python?.fidelity.fast.maxAbsDeltaTop1 ?? "0.2"} (item 9). What is left is the crop's resampling, which reads only the region the crop keeps. Fidelity "fast" (shrink-on-load) takes ${python?.fidelity.fast.preprocess12MpJpeg.median ?? "?"} ms here.`,
      );
    } else if ((k === "warmVsPython_0_5MpJpeg" || k === "warmVsPython_12MpJpeg") && python) {
      const w = pyWarm(k === "warmVsPython_0_5MpJpeg" ? "jpeg-0.5mp" : "jpeg-12mp");
      const ours = warmRow(k === "warmVsPython_0_5MpJpeg" ? "jpeg-0.5mp" : "jpeg-12mp");
      md.push(
        `- **${names[k]}**: imgfn ${w.imgfn.excludingS3.median} ms, Python ${w.python.excludingS3.median} ms. Both decode the JPEG in full with libjpeg-turbo${ours ? ` (sharp: ${ours.fullDecodeOnly.median} ms alone)` : ""} and run the same onnxruntime on the same tensor; what differs is the resize: Pillow's in C, imgfn's crop-only resampling with the same arithmetic in JavaScript (int32, one core). Exactness with the reference is what rules out decoding smaller: with fidelity "fast" the 12 MP preprocessing takes ${python.fidelity.fast.preprocess12MpJpeg.median} ms instead of ${python.fidelity.exact.preprocess12MpJpeg.median} ms, but top-1 agreement falls to ${python.fidelity.fast.top1Agreement} and max |Δp| rises to ${python.fidelity.fast.maxAbsDeltaTop1}.`,
      );
    } else if (k === "peakRssVsPython" && python) {
      md.push(`- **${names[k]}**: ${python.memory.map((m: any) => `${m.image} ${m.imgfnPeakMb} vs ${m.pythonPeakMb} MB`).join(", ")}. A Node.js process with V8, libvips and onnxruntime starts larger than CPython with Pillow and onnxruntime (RSS after init in item 7), and the full-resolution decode of a 12 MP JPEG (36 MB of RGB) is the same on both sides.`);
    } else if (k === "appLayersVsPythonDeps" && python && x86) {
      md.push(`- **${names[k]}**: imgfn ${mb(appWithoutModel!)} (node_modules + handler) against ${mb(python.deps.pythonShippedBytes)} of Python packages (${Object.entries(python.deps.shipped).sort((a: any, b: any) => b[1] - a[1]).slice(0, 3).map(([n, b]: any) => `${n} ${mb(b)}`).join(", ")}); onnxruntime-node's and sharp's native libraries are most of imgfn's.`);
    } else if (k === "coldStartToReadyMs" && cold) {
      const b = cold.breakdown;
      md.push(
        `- **${names[k]}**: ${cold.toReady.median} ms (limit ${limits[k]}). Of it, Node's own bootstrap, before any of imgfn's code runs, took ${b.nodeBootstrap.median} ms; then sharp ${b.sharp.median} ms, onnxruntime ${b.onnxruntime.median} ms, the function bundle ${b.functionBundle.median} ms and the model session ${b.modelSession.median} ms.${python ? ` In item 9's runs, timed from spawn in the parent alternately with the Python handler's, imgfn took ${python.cold.imgfn.median} ms to ready and Python ${python.cold.python.median} ms.` : ""}`,
      );
    } else if (k === "throughputConcurrency2OverConcurrency1" && throughput) {
      const c1 = throughput.runs[0];
      const busy = r2((c1.cpuMsPerImage.stackProcess + (c1.cpuMsPerImage.uploaders ?? 0) + c1.cpuMsPerImage.workers) * c1.imagesPerSecond / 1000);
      md.push(
        `- **${names[k]}**: at concurrency 1 the machine is already ${busy} cores busy (worker ${c1.cpuMsPerImage.workers} ms + stack process ${c1.cpuMsPerImage.stackProcess} ms + uploaders ${c1.cpuMsPerImage.uploaders ?? "-"} ms of CPU per image at ${c1.imagesPerSecond} images/s), so on ${throughput.cores} cores concurrency 2 can add at most ${r2(throughput.cores / busy)}×; the CPU-bound ceiling is ${throughput.cpuBoundImagesPerSecond} images/s. The machine's load average when each run started (${throughput.runs.map((r: any) => r.loadAverageAtStart ?? "?").join(" and ")}) counts too: other work on these two cores slows concurrency 2 more than concurrency 1.`,
      );
    } else if (k === "stackProcessCpuMsPerImage" && throughput) {
      const stack = throughput.runs.map((r: any) => r.cpuMsPerImage.stackProcess);
      const f = throughput.floor?.serverCpuMsPerImage;
      const without = throughput.withoutModel?.cpuMsPerImage.stackProcess;
      md.push(
        f && without !== undefined
          ? `- **${names[k]}**: ${stack.join(" and ")} ms (limit ${limits[k]}). Per image the stack serves four S3 requests, and on this machine Node's HTTP server and loopback TCP alone cost ${f.nodeHttpDoingNothing} ms for them (a node:http server that does nothing, same client, same run); the local S3 server costs ${f.localS3} ms for the same four requests (SigV4, the body's MD5 and CRC32, the commit), the whole stack ${without} ms per image when the function makes the same S3 calls without the model, and ${stack[1]} ms at concurrency 2 with the model: sharing two cores with onnxruntime and the resampling makes the stack's own code slower. s3rver's stack cost 11.44 ms with the uploaders inside it; item 6 has the breakdown.`
          : `- **${names[k]}**: ${fmt(targets[k])} (limit ${limits[k]}); see item 6.`,
      );
    } else {
      md.push(`- **${names[k]}**: ${fmt(targets[k])} (limit ${limits[k]}); see the section below.`);
    }
  }
  md.push("");
}

md.push("## 1. Per-image function cost, warm", "");
if (warm) {
  md.push(
    `The staged function (the bundle that ships, \`bench/.work/task/index.mjs\`, with ${warm.threads} ONNX Runtime intra-op thread) imported in one process and invoked with S3's event shape against the local S3 server on loopback; stage timings are the ones the handler logs. ${warm.runs} measured runs per image after ${warm.warmup} warm-up runs; the function, the naive pipeline, the model alone and a bare decode run in turn in blocks of 10, so each is measured in its own steady state and machine noise falls on all of them alike. Milliseconds, median / p95. "excl. S3" = total − download − upload.`,
    "",
    cmd("warm"),
    "",
  );
  table(
    ["Image", "Bytes", "Download", "Decode+preprocess", "Inference", "Upload", "Total", "Total excl. S3"],
    warm.images.map((i: any) => [`${i.description}`, i.bytes.toLocaleString("en-US"), ms(i.stages.download), ms(i.stages.preprocess), ms(i.stages.inference), ms(i.stages.upload), ms(i.stages.total), ms(i.stages.excludingS3)]),
  );
  md.push("Beside it, in the same loop: the naive reference pipeline (read metadata, full decode, resize the decoded pixels, crop, JS normalisation loop: `bench/src/naive.ts`) the model alone (`session.run` on a fixed tensor), and, as a floor, sharp decoding the whole image to raw pixels with no other step.", "");
  table(
    ["Image", "Preprocess (function)", "Preprocess (naive)", "Speedup", "Full decode alone", "Model-only inference", "Excl. S3 ÷ model-only", "Top-1 function", "Top-1 naive", "Agree"],
    warm.images.map((i: any) => [i.image, ms(i.stages.preprocess), ms(i.naivePreprocess), `${i.preprocessSpeedup}×`, ms(i.fullDecodeOnly), ms(i.modelOnly), `${i.excludingS3OverModelOnly}×`, `${i.top1.function} ${i.top1.functionLabel}`, `${i.top1.naive} ${i.top1.naiveLabel}`, i.top1.agree ? "yes" : "**no**"]),
  );
  md.push(`Top-1 agreement on the committed samples as shipped: ${warm.agreementSamples.map((s: any) => `${s.image}: ${s.top1.functionLabel} / ${s.top1.naiveLabel} (${s.top1.agree ? "agree" : "differ"})`).join("; ")}.`, "");
} else missing("warm");

md.push("## 2. Cold start", "");
if (cold) {
  md.push(
    `Fresh \`node\` processes (${cold.runs} of each kind, alternating). Times are from the process's time origin (so Node's own bootstrap is included) to: **ready** = the staged \`index.mjs\` imported, which at init loads sharp, onnxruntime-node, the bundled AWS SDK and creates the model session; **first result** = ready + the first event (S3 get of ${cold.image}, classify, S3 put against the local S3 server). Milliseconds, median / p95.`,
    "",
    cmd("cold"),
    "",
  );
  table(["Measure", "ms (median / p95)"], [
    ["Fresh process → ready", ms(cold.toReady)],
    ["Fresh process → first result", ms(cold.toFirstResult)],
    ["First event alone (cold handler path)", ms(cold.firstEvent)],
  ]);
  md.push("What loads, step by step in a separate fresh process each time (the bundle is imported with `IMGFN_PRELOAD=0`, then the session is created):", "");
  const b = cold.breakdown;
  table(["Step", "ms (median / p95)"], [
    ["Node.js bootstrap (process start → first line)", ms(b.nodeBootstrap)],
    ["import sharp (libvips)", ms(b.sharp)],
    ["import onnxruntime-node", ms(b.onnxruntime)],
    [`function bundle: AWS SDK S3 client + handler (${mb(cold.bundleBytes)})`, ms(b.functionBundle)],
    ["model: read manifest + labels, create the session", ms(b.modelSession)],
    ["= ready", ms(b.ready)],
  ]);
} else missing("cold");

md.push("## 3. Threads", "");
if (threads) {
  md.push(
    `ONNX Runtime intra-op threads on the ${threads.image} image. The model alone (one process, both sessions interleaved, ${threads.runs * 2} runs each): 1 thread ${ms(threads.modelOnly.threads1)} ms, 2 threads ${ms(threads.modelOnly.threads2)} ms (median / p95). Whole classifications (decode + preprocess + inference), ${threads.runs} per worker, workers started together:`,
    "",
    cmd("threads"),
    "",
  );
  table(["Workers", "Threads", "Per image, ms (median / p95)", "Inference, ms (median / p95)", "Images/s (all workers)"], threads.matrix.map((m: any) => [m.workers, m.threads, ms(m.perImage), ms(m.inference), m.imagesPerSecond]));
  md.push(`**Choice: ${threads.choice} intra-op thread** (\`IMGFN_THREADS\` default in handler/settings.ts). ${threads.reason}. A Lambda environment runs one event at a time and gets less than one vCPU below ${FULL_VCPU_MB} MB, and the local emulator runs its workers side by side, so the second thread has no idle core to use.`, "");
} else missing("threads");

md.push("## 4. Image size", "");
if (layers) {
  md.push(
    "The function's app layers as the daemonless builder makes them (node_modules for linux/<arch> pruned to the externals' closure, the model, the handler), against a naive `npm ci --omit=dev --os=linux --cpu=<arch>` of the same dependencies in one unpruned layer plus the same model and handler layers. Compressed = gzip as pushed.",
    "",
    cmd("layers"),
    "",
  );
  table(
    ["Architecture", "node_modules", "model", "handler", "App layers total", "Naive install total", "App ÷ naive"],
    layers.rows.map((r: any) => {
      const l = (k: string) => r.layers.find((x: any) => x.kind === k);
      const both = (x: any) => `${mb(x.uncompressed)} (${mb(x.compressed)} gz)`;
      return [r.architecture, both(l("node_modules")), both(l("model")), both(l("handler")), both(r.total), both(r.naiveTotal), `${r.ratio.uncompressed} % (${r.ratio.compressed} % gz)`];
    }),
  );
} else missing("layers");

md.push("## 5. Deploy iteration", "");
if (deploy) {
  md.push(
    `The ${deploy.builder} builder pushing ${deploy.architecture} to Debian's docker-registry on loopback, in order: an empty blob store and repository, no change, a one-line change to the handler bundle, no change again. Base image: ${deploy.base}; with the real base from public.ecr.aws the cold build would also upload its layers once.`,
    "",
    cmd("deploy"),
    "",
  );
  table(["Build", "Bytes uploaded", "Layers uploaded", "Wall time"], deploy.steps.map((s: any) => [s.step, s.uploadedBytes.toLocaleString("en-US"), s.layersUploaded.join(", ") || "none", `${s.seconds} s`]));
} else missing("deploy");

md.push("## 6. Local pipeline throughput", "");
if (throughput) {
  md.push(
    `A burst of ${throughput.runs[0].images} uploads of the ${throughput.image} image through the embedded stack (the local S3 server + trigger rules + the Lambda emulator's worker processes running the staged function), ${throughput.uploaders} parallel uploaders. Workers are started before the burst (cold start is item 2). Latency = upload start → end of the invocation that wrote the result.`,
    "",
    cmd("throughput"),
    "",
  );
  table(
    ["Concurrency", "Images/s", "Latency p50", "Latency p95", "Uploads took", "CPU per image: stack process", "CPU per image: uploaders", "CPU per image: workers"],
    throughput.runs.map((r: any) => [r.concurrency, r.imagesPerSecond, `${r.latency.median} ms`, `${r.latency.p95} ms`, `${r.uploadSeconds} s`, `${r.cpuMsPerImage.stackProcess} ms`, `${r.cpuMsPerImage.uploaders ?? "-"} ms`, `${r.cpuMsPerImage.workers} ms`]),
  );
  md.push(
    `Per image the stack process serves four S3 requests (the upload's PutObject, then the function's GetObject with If-Match, the result's PutObject and the HeadObject that re-checks the upload's ETag: each SigV4-verified, each body hashed with MD5 and checked against its CRC32 and, when the client signed it, its SHA-256, each write committed with one segment append and one journal append), turns the upload into an S3 event, hands it to a worker over IPC and writes the function's log lines. Until the project's own S3 server replaced s3rver (koa, a sidecar file per object, chunk framing stored), the stack process spent 11.44 ms per image with the uploaders inside it (15 ms in the issue's measurement); the figure comparable to that is stack process + uploaders here.`,
    "",
  );
  if (throughput.withoutModel && throughput.floor) {
    const f = throughput.floor.serverCpuMsPerImage;
    md.push(
      `Where the stack process's CPU goes, measured in the same run: at concurrency 2 it spent **${throughput.runs[1].cpuMsPerImage.stackProcess} ms** per image with the model running in the workers, and **${throughput.withoutModel.cpuMsPerImage.stackProcess} ms** with bench/fixtures/s3-io in place of the function (the same S3 calls per image, no inference; ${throughput.withoutModel.imagesPerSecond} images/s): the rest is what sharing two cores with onnxruntime and the resampling costs the stack's code. The four requests of an image alone, made ${throughput.floor.images} times in sequence by one SDK client in another process, cost the local S3 server **${f.localS3} ms** and a node:http server that reads each request and answers it without any work **${f.nodeHttpDoingNothing} ms**: that much of the stack's figure is Node's HTTP server and the kernel's loopback TCP, whatever the server does.`,
      "",
    );
  }
  md.push(
    `Concurrency 2 ÷ 1: **${throughput.speedup}×**. The stack process (the local S3 server, the trigger rules, the emulator and the local logs, in one Node process) and the uploaders (a second process, 4 parallel AWS SDK PutObjects with default checksums, as \`imgfn upload\` is against \`imgfn dev\`) need CPU for every image too, so on ${throughput.cores} cores the pipeline cannot exceed ${throughput.cores} × 1000 ms ÷ (CPU per image, stack + uploaders + worker, at concurrency 2) = **${throughput.cpuBoundImagesPerSecond} images/s**.`,
    "",
  );
} else missing("throughput");

md.push("## 7. Memory and cost", "");
if (memory && costs) {
  md.push(
    `Peak RSS (VmHWM) of a fresh worker after init and after ${memory.invocationsPerProcess} warm invocations of one image size (the largest of ${memory.processesPerImage} processes) — what Lambda reports as Max Memory Used.`,
    "",
    cmd("memory"),
    "",
  );
  table(["Image", "Size", "RSS after init", "Peak RSS"], memory.rows.map((r: any) => [r.image, r.size, `${r.afterInitMb} MB`, `${r.peakMb} MB`]));
  md.push(
    `Smallest Lambda memory setting that fits the largest peak (${costs.peakMb} MB) with ${Math.round((HEADROOM - 1) * 100)} % headroom, rounded up to 64 MB: **${costs.settingMb} MB**.`,
    "",
    `Price assumption (us-east-1 on-demand list prices): $${PRICE.x86_64} per GB-s on x86_64, $${PRICE.arm64} per GB-s on arm64, $0.20 per 1M requests; billed duration rounded up to 1 ms; no free tier. Duration = the warm total per image from item 1 (including S3 transfer on loopback; real S3 adds tens of ms). Lambda gives ${costs.settingMb} MB about ${r2(costs.settingMb / FULL_VCPU_MB)} vCPU, so a CPU-bound run takes about ${FULL_VCPU_MB}/${costs.settingMb} times longer than on this machine's full core; the last column scales the duration by that factor (the cost per image is then the same as at ${FULL_VCPU_MB} MB, where latency is best).`,
    "",
  );
  table(
    ["Image", "Measured duration", `$ per 1000, x86_64 @ ${costs.settingMb} MB`, `$ per 1000, arm64 @ ${costs.settingMb} MB`, "Duration scaled to CPU share", "$ per 1000, x86_64, scaled"],
    costs.perImage.map((c: any) => [c.image, `${c.durationMs} ms`, `$${c.x86_64.toFixed(6)}`, `$${c.arm64.toFixed(6)}`, `${c.cpuShareDurationMs} ms`, `$${c.x86_64CpuShare.toFixed(6)}`]),
  );
  md.push("arm64 prices assume the same durations; this machine cannot measure Graviton.", "");
} else missing("memory");

md.push("## 8. Against the Python function a user would write", "");
if (python) {
  md.push(
    `\`bench/python/lambda_function.py\`: boto3 + Pillow + NumPy + onnxruntime (${python.versions}: Python, onnxruntime, Pillow, NumPy, boto3), one intra-op thread, the model loaded at module scope, the ONNX Model Zoo preprocessing. It runs in a Lambda-style worker process (\`bench/python/worker.py\`: import = init, then one event per line) against the same local S3 server as imgfn's staged function. Warm: ${python.runs} runs per image and runtime after 3 warm-up runs, in alternating blocks of 10. Milliseconds, median / p95.`,
    "",
    cmd("python"),
    "",
  );
  table(["Measure", "imgfn", "Python", "Python ÷ imgfn"], [
    [`Cold start: spawn → ready (${python.cold.runs} fresh processes each)`, ms(python.cold.imgfn), ms(python.cold.python), `${r2(python.cold.python.median / python.cold.imgfn.median)}×`],
    ...python.warm.flatMap((w: any) => [
      [`${w.image} (${w.size}) warm, excl. S3`, ms(w.imgfn.excludingS3), ms(w.python.excludingS3), `${w.speedupExcludingS3}×`],
      [`${w.image} warm, end to end (S3 get + classify + S3 put)`, ms(w.imgfn.total), ms(w.python.total), `${w.speedupEndToEnd}×`],
    ]),
    ...python.memory.map((m: any) => [`${m.image}: peak RSS after 20 invocations (fresh process)`, `${m.imgfnPeakMb} MB`, `${m.pythonPeakMb} MB`, `${r2(m.pythonPeakMb / m.imgfnPeakMb)}×`]),
    ["Installed dependencies (imgfn: app layers without the model; Python: site-packages less what Lambda's runtime provides)", appWithoutModel !== undefined ? mb(appWithoutModel) : "—", mb(python.deps.pythonShippedBytes), appWithoutModel ? `${r2(python.deps.pythonShippedBytes / appWithoutModel)}×` : "—"],
  ]);
  md.push(`Top-1 of each on these images: ${python.warm.map((w: any) => `${w.image}: ${w.top1.imgfn?.label} (${w.top1.imgfn?.score}) / ${w.top1.python?.label} (${w.top1.python?.score})`).join("; ")}.`, "");
  if (pythonCosts) {
    md.push(`Estimated cost per 1000 images, x86_64, each at the smallest memory setting its peak RSS fits with ${Math.round((HEADROOM - 1) * 100)} % headroom (imgfn ${pythonCosts.imgfnSettingMb} MB, Python ${pythonCosts.pythonSettingMb} MB), measured end-to-end durations, prices as in item 7:`, "");
    table(["Image", "imgfn $ / 1000", "Python $ / 1000"], pythonCosts.perImage.map((c: any) => [c.image, `$${c.imgfn.toFixed(6)}`, `$${c.python.toFixed(6)}`]));
  }
} else missing("python");

md.push("## 9. Parity with the reference pipeline, and the fidelity setting", "");
if (python) {
  const f = python.fidelity;
  md.push(
    `The parity corpus (test/helpers/parity.ts: the samples, the lossless fixtures, and generated 12 MP, 0.5 MP, greyscale, RGBA, alpha ramp, palette, 16-bit, EXIF-rotated, WebP, GIF, tiny and strip images; ${f.exact.files} files) classified by imgfn and by reference/classify.py (Pillow + NumPy + onnxruntime). |Δp| is the difference in the reference's top-1 class's probability. The 12 MP column is imgfn's warm preprocessing of the 12 MP JPEG.`,
    "",
  );
  table(["Fidelity", "Top-1 agreement", "Mean |Δp|", "Max |Δp|", "12 MP preprocess, ms", "Largest |Δp| on"], (["exact", "fast"] as const).map((m) => [m, f[m].top1Agreement, f[m].meanAbsDeltaTop1, f[m].maxAbsDeltaTop1, ms(f[m].preprocess12MpJpeg), f[m].worst.map((w: any) => `${w.file} ${w.deltaP}`).join(", ")]));
  md.push(
    `**Default: "exact".** With it the input tensors are bit-identical to the reference's on every file of the corpus (the parity test asserts max |Δ| ≤ 1e-5 per tensor; measured 0). The causes of the old gap were measured one by one, all on the same decoded pixels: the resize kernel and its rounding (libvips' reduce is not Pillow's filter: fixed by resampling with Pillow's arithmetic, handler/resample.ts), the crop offset (torchvision rounds half to even), JPEG shrink-on-load (DCT-domain 1/2–1/8 scaling; kept only in "fast"), the embedded ICC profile (Pillow ignores it, libvips applied it) and alpha (now flattened on black, as the reference states). "fast" keeps only shrink-on-load, and that alone moves this int8 model's top-1 probability by up to ${f.fast.maxAbsDeltaTop1}: the measured cost of exactness (${f.exact.preprocess12MpJpeg.median} vs ${f.fast.preprocess12MpJpeg.median} ms on a 12 MP JPEG) is worth the answers the notebook gives.`,
    "",
  );
  md.push("### Bad and odd inputs against a normal photo", "");
  md.push(`Each input classified 7 times in one process (median of the last 5, failures included: they are refused before or while decoding), and peak RSS in a fresh process that loaded the model and classified the input 3 times (\`bench/src/input-child.ts\`). The first row is the normal photo.`, "");
  table(["Input", "Time, ms (median / p95)", "Peak RSS", "Outcome"], python.badInput.rows.map((r: any) => [r.input, ms(r.ms), `${r.peakMb} MB`, r.outcome]));
  md.push(`Worst: time ${python.badInput.worstTime.ratio}× (${python.badInput.worstTime.input}), memory ${python.badInput.worstMemory.ratio}× (${python.badInput.worstMemory.input}) of the normal photo.`, "");
} else missing("python");

writeFileSync(join(ROOT, "BENCHMARKS.md"), md.join("\n"));
process.stderr.write(`  wrote BENCHMARKS.md and bench/results.json\n`);
for (const [k, t] of Object.entries(targets)) process.stderr.write(`  target ${k}: ${fmt(t)} (limit ${t.limit}) ${t.met ? "met" : "NOT met"}\n`);
