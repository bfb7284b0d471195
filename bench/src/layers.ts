/**
 * Item 4: the function's app layers (node_modules, model, handler) per architecture, compressed
 * and uncompressed, against a naive `npm ci --omit=dev` of the same dependencies for the same
 * platform (measured by the image room's measureAppLayers).
 */
import { measureAppLayers } from "../../src/image/measure.js";
import { log, writePart } from "./common.js";

const rows = [];
for (const arch of ["x86_64", "arm64"] as const) {
  const t0 = performance.now();
  const m = await measureAppLayers(arch);
  rows.push({ ...m, seconds: Math.round((performance.now() - t0) / 100) / 10 });
  const naive = m.naiveNodeModules!;
  log(`layers ${arch}: app ${(m.total.uncompressed / 1e6).toFixed(1)} MB (${(m.total.compressed / 1e6).toFixed(1)} MB gz) vs naive node_modules ${(naive.uncompressed / 1e6).toFixed(1)} MB (${(naive.compressed / 1e6).toFixed(1)} MB gz)`);
}
await writePart("layers", { rows });
process.exit(0);
