/**
 * One fresh process per input for the bad-input figures: the classifier loaded (as the function
 * has it after init), then the input classified 3 times; peak RSS (VmHWM) after init and after.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../src/paths.js";
import { Classifier } from "../../handler/classify.js";
import { loadModel } from "../../src/model/spec.js";

const [file] = process.argv.slice(2);
const hwm = () => Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))![1]) / 1024;
const spec = await loadModel();
const classifier = await Classifier.load({ manifest: spec.manifest, model: spec.weights.path, labels: spec.labels });
const bytes = readFileSync(file);
await classifier.classify(readFileSync(join(packageRoot(), "samples", "cat.jpg"))); // the first run pays for lazy init
const afterInit = hwm();
let outcome = "classified";
for (let i = 0; i < 3; i++) {
  try {
    await classifier.classify(bytes);
  } catch (err) {
    outcome = (err as { code?: string }).code ?? String(err);
  }
}
process.stdout.write(JSON.stringify({ afterInitMb: afterInit, peakMb: hwm(), outcome }) + "\n");
process.exit(0);
