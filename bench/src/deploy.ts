/**
 * Item 5: deploy iteration with the daemonless builder against a real registry on loopback
 * (Debian's docker-registry): a cold cache (empty blob store, empty repository), a handler-only
 * change, and no change — wall time and bytes sent to the registry for each.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobStore } from "../../src/image/layer.js";
import { OciBuilder } from "../../src/image/oci.js";
import { stageFunction } from "../../src/image/stage.js";
import { loadModel } from "../../src/model/spec.js";
import { pushSyntheticBase, startRegistry } from "../../test/helpers/registry.js";
import { log, r2, writePart } from "./common.js";

const work = await mkdtemp(join(tmpdir(), "imgfn-bench-deploy-"));
const registry = await startRegistry();
try {
  const base = await pushSyntheticBase(registry, "lambda/nodejs");
  const staged = await stageFunction(await loadModel(), join(work, "task"));
  const env = { ...process.env, XDG_CACHE_HOME: join(work, "cache") };
  const builder = new OciBuilder({ env, store: new BlobStore(env, join(work, "blobs")) });
  const build = async (step: string) => {
    const t0 = performance.now();
    const r = await builder.build({ staged, architecture: "x86_64", baseImage: base.ref, repository: `${registry.host}/imgfn-bench`, tag: "latest" });
    const seconds = r2((performance.now() - t0) / 1000);
    const uploaded = r.layers.filter((l) => l.uploaded).map((l) => l.kind);
    log(`deploy ${step}: ${r.uploadedBytes} bytes uploaded in ${seconds} s (layers sent: ${uploaded.join(", ") || "none"})`);
    return { step, uploadedBytes: r.uploadedBytes, seconds, layersUploaded: uploaded, digest: r.digest };
  };
  const steps = [];
  steps.push(await build("cold cache"));
  steps.push(await build("no change"));
  // A handler-only change: the bundle gets one more line (a new file: the staged one is a hard link to dist/).
  const index = join(staged.dir, "index.mjs");
  const text = await readFile(index, "utf8");
  await rm(index);
  await writeFile(index, text + `\n// handler change ${Date.now()}\n`);
  steps.push(await build("handler-only change"));
  steps.push(await build("no change after it"));
  await writePart("deploy", {
    builder: "oci (daemonless)",
    architecture: "x86_64",
    base: "synthetic stand-in for public.ecr.aws/lambda/nodejs:22 in the same registry (mounted, not uploaded)",
    steps,
  });
} finally {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
}
process.exit(0);
