/**
 * The daemonless builder against a real registry (Debian's docker-registry on loopback): push,
 * read back with skopeo and our client, determinism, layer reuse, arm64, OCI layout output.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectBuilder } from "../../src/image/index.js";
import { OciBuilder } from "../../src/image/oci.js";
import { BlobStore } from "../../src/image/layer.js";
import { RegistryClient } from "../../src/image/registry.js";
import { stageFunction, type StagedFunction } from "../../src/image/stage.js";
import { loadModel, type ModelSpec } from "../../src/model/spec.js";
import { BASE_ENV, pushSyntheticBase, readLayer, startRegistry, type TestRegistry } from "../helpers/registry.js";

let registry: TestRegistry;
let work: string;
let spec: ModelSpec;
let staged: StagedFunction;
let baseRef: string;
let env: NodeJS.ProcessEnv;
let client: RegistryClient;

const skopeo = (...args: string[]) => execFileSync("skopeo", [...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "imgfn-oci-"));
  // A private cache: blob store and npm tarballs, so the test sees a fresh machine's behaviour
  // for the layer store (the npm cache is shared to spare the registry).
  env = { ...process.env, XDG_CACHE_HOME: join(work, "cache") };
  registry = await startRegistry();
  client = new RegistryClient(registry.host);
  baseRef = (await pushSyntheticBase(registry, "lambda/nodejs")).ref;
  spec = await loadModel();
  staged = await stageFunction(spec, join(work, "task"));
}, 180_000);

afterAll(async () => {
  await client?.close();
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("oci builder", () => {
  let first: Awaited<ReturnType<OciBuilder["build"]>>;

  it("is what selectBuilder picks when no Docker daemon answers", async () => {
    const b = await selectBuilder("auto", { env: { ...env, PATH: "/nonexistent" } });
    expect(b.name).toBe("oci");
  });

  it("pushes an image whose manifest, config and layers read back as built", async () => {
    const builder = new OciBuilder({ env });
    first = await builder.build({ staged, architecture: "x86_64", baseImage: baseRef, repository: `${registry.host}/imgfn-test`, tag: "v1" });
    expect(first.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(first.imageUri).toBe(`${registry.host}/imgfn-test@${first.digest}`);
    expect(first.uploadedBytes).toBeGreaterThan(0);

    // skopeo, an independent client: the tag resolves to our digest; raw manifest hashes to it.
    const raw = skopeo("inspect", "--tls-verify=false", "--raw", `docker://${registry.host}/imgfn-test:v1`);
    expect("sha256:" + createHash("sha256").update(raw).digest("hex")).toBe(first.digest);
    const manifest = JSON.parse(raw);
    expect(manifest.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(manifest.layers).toHaveLength(4); // base + node_modules + model + handler
    const config = JSON.parse(skopeo("inspect", "--tls-verify=false", "--config", `docker://${registry.host}/imgfn-test@${first.digest}`));
    expect(config.architecture).toBe("amd64");
    expect(config.os).toBe("linux");
    expect(config.config.WorkingDir).toBe("/var/task");
    expect(config.config.Cmd).toEqual(["index.handler"]);
    expect(config.config.Entrypoint).toEqual(["/lambda-entrypoint.sh"]);
    // the base's environment, plus source-mapped stacks in the function's logs and onnxruntime's
    // telemetry off ($HOME is read-only on Lambda)
    expect(config.config.Env).toEqual([...BASE_ENV.filter((e: string) => !e.startsWith("NODE_OPTIONS=")), "NODE_OPTIONS=--enable-source-maps", "ORT_DISABLE_TELEMETRY=1"]);
    expect(config.rootfs.diff_ids).toHaveLength(4);
    expect(config.history.at(-1).created_by).toBe("imgfn build: handler");

    // The layers, pulled back: handler, model (checksum = manifest), linux/x64 natives only.
    const [, nm, model, handler] = await Promise.all(manifest.layers.map((l: any) => client.getBlob("imgfn-test", l.digest).then(readLayer)));
    expect([...handler.keys()]).toEqual(["var/", "var/task/", "var/task/index.mjs", "var/task/index.mjs.map", "var/task/package.json"]);
    // the source map points at the function's own TypeScript
    expect(JSON.parse(handler.get("var/task/index.mjs.map")!.body.toString()).sources).toEqual(expect.arrayContaining([expect.stringMatching(/handler\/index\.ts$/)]));
    expect(handler.get("var/task/index.mjs")!.body.equals(readFileSync(join(staged.dir, "index.mjs")))).toBe(true);
    expect(JSON.parse(handler.get("var/task/package.json")!.body.toString())).toEqual({ type: "module" });
    const weights = model.get(`var/task/model/${spec.manifest.file}`)!;
    expect(createHash("sha256").update(weights.body).digest("hex")).toBe(spec.manifest.sha256);
    expect(JSON.parse(model.get("var/task/model/labels.json")!.body.toString())).toHaveLength(spec.labels.length);
    for (const e of [...handler.values(), ...model.values()]) {
      expect(e.uid).toBe(0);
      expect(e.mtime).toBe(0);
    }
    const natives = [...nm.keys()].filter((p) => /\.(node|so)(\.|$)/.test(p));
    expect(natives.sort()).toEqual([
      "var/task/node_modules/@img/sharp-libvips-linux-x64/lib/libvips-cpp.so.8.18.7",
      "var/task/node_modules/@img/sharp-linux-x64/lib/sharp-linux-x64-0.35.5.node",
      "var/task/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1",
      "var/task/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node",
    ]);
    const names = [...nm.keys()];
    expect(names.some((p) => /darwin|win32|musl|linux\/arm64/.test(p))).toBe(false);
    expect(names.some((p) => /\.d\.ts$|\.map$|README/.test(p))).toBe(false);
    expect(names).toContain("var/task/node_modules/onnxruntime-common/package.json");
    expect(names).toContain("var/task/node_modules/sharp/package.json");
    expect(names.some((p) => p.startsWith("var/task/node_modules/adm-zip/"))).toBe(false);
    // parent directories present and sorted
    const sorted = [...names].sort();
    expect(names).toEqual(sorted);
    expect(nm.get("var/task/node_modules/@img/")?.type).toBe("directory");
  });

  it("gives the same digest for the same inputs, and pushes nothing the second time", async () => {
    // A fresh blob store: the layers are rebuilt from scratch, not read from the cache.
    const again = await new OciBuilder({ env, store: new BlobStore(env, join(work, "store2")) }).build({ staged, architecture: "x86_64", baseImage: baseRef, repository: `${registry.host}/imgfn-test`, tag: "v1" });
    expect(again.digest).toBe(first.digest);
    expect(again.uploadedBytes).toBe(0);
    expect(again.layers.every((l) => !l.uploaded)).toBe(true);
  });

  it("re-uploads only the handler layer after a handler-only change", async () => {
    const changed = await stageFunction(spec, join(work, "task2"));
    await rm(join(changed.dir, "index.mjs")); // a hard link to dist/: replace, don't edit in place
    writeFileSync(join(changed.dir, "index.mjs"), readFileSync(join(staged.dir, "index.mjs"), "utf8") + "\n// changed\n");
    const r = await new OciBuilder({ env }).build({ staged: changed, architecture: "x86_64", baseImage: baseRef, repository: `${registry.host}/imgfn-test`, tag: "v2" });
    expect(r.digest).not.toBe(first.digest);
    const uploaded = r.layers.filter((l) => l.uploaded);
    expect(uploaded.map((l) => l.kind)).toEqual(["handler"]);
    const handlerSize = uploaded[0].size;
    // handler layer + new config + manifest, nothing near the size of node_modules or the model
    expect(r.uploadedBytes).toBeGreaterThan(handlerSize);
    expect(r.uploadedBytes).toBeLessThan(handlerSize + 20_000);
    expect(r.layers.slice(0, 3).map((l) => l.digest)).toEqual(first.layers.slice(0, 3).map((l) => l.digest));
  });

  it("builds arm64 from this x64 machine with arm64 natives and an arm64 config", async () => {
    const r = await new OciBuilder({ env }).build({ staged, architecture: "arm64", baseImage: baseRef, repository: `${registry.host}/imgfn-arm`, tag: "arm" });
    const manifest = (await client.getManifest("imgfn-arm", r.digest)).json;
    const config = JSON.parse((await client.getBlob("imgfn-arm", manifest.config.digest)).toString());
    expect(config.architecture).toBe("arm64");
    expect(config.os).toBe("linux");
    const nm = await readLayer(await client.getBlob("imgfn-arm", manifest.layers[1].digest));
    const natives = [...nm.keys()].filter((p) => /\.(node|so)(\.|$)/.test(p)).sort();
    expect(natives).toEqual([
      "var/task/node_modules/@img/sharp-libvips-linux-arm64/lib/libvips-cpp.so.8.18.7",
      "var/task/node_modules/@img/sharp-linux-arm64/lib/sharp-linux-arm64-0.35.5.node",
      "var/task/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1",
      "var/task/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node",
    ]);
    // really ARM aarch64 ELF files (e_machine 183), not x64 ones renamed
    for (const p of natives) {
      const elf = nm.get(p)!.body;
      expect(elf.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
      expect(elf.readUInt16LE(18)).toBe(183);
    }
    // the base layer was reused by mount/HEAD, not re-sent
    expect(r.layers[0].uploaded).toBeFalsy();
  });

  it("writes an OCI layout that skopeo and umoci read, with the same digest as the push", async () => {
    const out = join(work, "layout");
    const r = await new OciBuilder({ env }).build({ staged, architecture: "x86_64", baseImage: baseRef, output: out, tag: "v1" });
    expect(r.digest).toBe(first.digest);
    expect(r.uploadedBytes).toBe(0);
    const inspected = JSON.parse(skopeo("inspect", `oci:${out}:v1`));
    expect(inspected.Digest).toBe(first.digest);
    expect(inspected.Architecture).toBe("amd64");
    const bundle = join(work, "bundle");
    execFileSync("umoci", ["unpack", "--rootless", "--image", `${out}:v1`, bundle], { stdio: "pipe" });
    expect(readFileSync(join(bundle, "rootfs", "var", "task", "index.mjs")).equals(readFileSync(join(staged.dir, "index.mjs")))).toBe(true);
    expect(readFileSync(join(bundle, "rootfs", "lambda-entrypoint.sh"), "utf8")).toContain("aws-lambda-rie");
  });
});
