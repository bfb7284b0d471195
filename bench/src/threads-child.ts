/**
 * One classifying worker for the threads measurement: loads the model with IMGFN_THREADS
 * intra-op threads, warms up, waits for "go" from the parent (so that concurrent workers start
 * together), classifies the image RUNS times and reports each time.
 */
import { readFileSync } from "node:fs";
import { Classifier } from "../../handler/classify.js";
import { loadModel } from "../../src/model/spec.js";

const [file, runsArg] = process.argv.slice(2);
const spec = await loadModel();
const clf = await Classifier.load({ manifest: spec.manifest, model: spec.weights.path, labels: spec.labels, threads: Number(process.env.IMGFN_THREADS ?? 1) });
const bytes = readFileSync(file);
for (let i = 0; i < 5; i++) await clf.classify(bytes);
process.send!({ type: "ready" });
process.once("message", async () => {
  const times: number[] = [];
  const inference: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < Number(runsArg); i++) {
    const a = performance.now();
    const r = await clf.classify(bytes);
    times.push(performance.now() - a);
    inference.push(r.timings.inference);
  }
  process.send!({ type: "done", times, inference, wall: performance.now() - t0 });
  process.exit(0);
});
