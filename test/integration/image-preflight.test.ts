/**
 * Preflight against a real registry (an index, an architecture mismatch) and the docker builder's
 * command lines, through a fake `docker` on PATH that records argv and stdin.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerBuilder } from "../../src/image/docker.js";
import { selectBuilder } from "../../src/image/index.js";
import { OciBuilder } from "../../src/image/oci.js";
import { preflight } from "../../src/image/preflight.js";
import { RegistryClient } from "../../src/image/registry.js";
import { stageFunction, type StagedFunction } from "../../src/image/stage.js";
import { loadModel } from "../../src/model/spec.js";
import { pushSyntheticBase, startRegistry, type TestRegistry } from "../helpers/registry.js";

let registry: TestRegistry;
let client: RegistryClient;
let work: string;
let env: NodeJS.ProcessEnv;
let staged: StagedFunction;
let base: Awaited<ReturnType<typeof pushSyntheticBase>>;
let amd64Digest: string;
let arm64Digest: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "imgfn-preflight-"));
  env = { ...process.env, XDG_CACHE_HOME: join(work, "cache") };
  registry = await startRegistry();
  client = new RegistryClient(registry.host);
  base = await pushSyntheticBase(registry, "lambda/nodejs");
  staged = await stageFunction(await loadModel(), join(work, "task"));
  const b = new OciBuilder({ env });
  amd64Digest = (await b.build({ staged, architecture: "x86_64", baseImage: base.ref, repository: `${registry.host}/app`, tag: "amd64" })).digest;
  arm64Digest = (await b.build({ staged, architecture: "arm64", baseImage: base.ref, repository: `${registry.host}/app`, tag: "arm64" })).digest;
}, 240_000);

afterAll(async () => {
  await client?.close();
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("preflight", () => {
  it("accepts the single-platform image the oci builder pushed", async () => {
    const report = await preflight(client, "app", amd64Digest, "x86_64");
    expect(report).toMatchObject({ digest: amd64Digest, platform: "linux/amd64", mediaType: "application/vnd.oci.image.manifest.v1+json", layers: 4 });
  });

  it("refuses an image index, with the fix", async () => {
    await expect(preflight(client, "lambda/nodejs", base.indexDigest, "x86_64")).rejects.toMatchObject({
      name: "PreflightError",
      message: expect.stringMatching(/multi-platform image index \(linux\/amd64, linux\/arm64\); Lambda takes a single-platform image manifest only/),
      hint: expect.stringMatching(/--platform linux\/amd64 --provenance=false --sbom=false/),
    });
  });

  it("refuses an index carrying attestation manifests (what buildx pushes by default)", async () => {
    const index = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: amd64Digest, size: (await client.getManifest("app", amd64Digest)).bytes.length, platform: { os: "linux", architecture: "amd64" } },
        { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: arm64Digest, size: (await client.getManifest("app", arm64Digest)).bytes.length, platform: { os: "unknown", architecture: "unknown" }, annotations: { "vnd.docker.reference.type": "attestation-manifest" } },
      ],
    };
    const bytes = Buffer.from(JSON.stringify(index));
    const digest = await client.putManifest("app", "with-attestation", bytes, index.mediaType);
    await expect(preflight(client, "app", digest, "x86_64")).rejects.toThrow(/image index with 1 attestation manifest \(provenance\/SBOM\)/);
  });

  it("refuses an architecture mismatch (arm64 image for an x86_64 function)", async () => {
    await expect(preflight(client, "app", arm64Digest, "x86_64")).rejects.toMatchObject({
      message: expect.stringMatching(/the image is linux\/arm64 but the function's architecture is x86_64 \(linux\/amd64\)/),
      hint: expect.stringMatching(/--arch x86_64/),
    });
  });
});

describe("docker builder (fake docker on PATH)", () => {
  let bin: string;
  let log: string;
  const fakeEnv = (digest: string, opts: { buildx?: boolean } = {}) => ({
    ...env,
    PATH: `${bin}:${process.env.PATH}`,
    FAKE_DOCKER_LOG: log,
    FAKE_DOCKER_DIGEST: digest,
    FAKE_DOCKER_BUILDX: opts.buildx === false ? "0" : "1",
  });
  const calls = () =>
    readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { argv: string[]; stdin: string; context?: string[] });

  beforeAll(() => {
    bin = join(work, "bin");
    mkdirSync(bin, { recursive: true });
    log = join(work, "docker.log");
    // Records argv, stdin and the build context's files; answers like docker would.
    writeFileSync(
      join(bin, "docker"),
      `#!/usr/bin/env node
const fs = require("node:fs"), path = require("node:path");
const argv = process.argv.slice(2);
let stdin = "";
try { stdin = fs.readFileSync(0, "utf8"); } catch {}
const entry = { argv, stdin };
const isBuild = argv[0] === "build" || (argv[0] === "buildx" && argv[1] === "build");
if (isBuild) {
  const ctx = argv[argv.length - 1];
  const walk = (d, p = "") => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(path.join(d, e.name), p + e.name + "/") : [p + e.name]);
  entry.context = walk(ctx).sort();
}
fs.appendFileSync(process.env.FAKE_DOCKER_LOG, JSON.stringify(entry) + "\\n");
if (argv[0] === "info") { console.error("Cannot connect to the Docker daemon"); process.exit(1); }
if (argv[0] === "buildx" && argv[1] === "version") process.exit(process.env.FAKE_DOCKER_BUILDX === "1" ? 0 : 1);
if (argv[0] === "login") { console.log("Login Succeeded"); process.exit(0); }
if (argv[0] === "buildx" && argv[1] === "build") {
  const meta = argv[argv.indexOf("--metadata-file") + 1];
  fs.writeFileSync(meta, JSON.stringify({ "containerimage.digest": process.env.FAKE_DOCKER_DIGEST }));
  process.exit(0);
}
if (argv[0] === "build") process.exit(0);
if (argv[0] === "push") { console.log("latest: digest: " + process.env.FAKE_DOCKER_DIGEST + " size: 1234"); process.exit(0); }
process.exit(0);
`,
    );
    chmodSync(join(bin, "docker"), 0o755);
  });

  it("auto picks oci when docker info finds no daemon", async () => {
    writeFileSync(log, "");
    expect((await selectBuilder("auto", { env: fakeEnv(amd64Digest) })).name).toBe("oci");
    expect(calls()[0].argv[0]).toBe("info");
  });

  it("runs buildx for the function's platform without attestations, logs in via stdin, then preflights", async () => {
    writeFileSync(log, "");
    const password = "s3cr3t-" + "x".repeat(1500);
    const r = await new DockerBuilder({ env: fakeEnv(amd64Digest) }).build({ staged, architecture: "x86_64", baseImage: base.ref, repository: `${registry.host}/app`, tag: "amd64", auth: { username: "AWS", password } });
    expect(r.digest).toBe(amd64Digest);
    const all = calls();
    const login = all.find((c) => c.argv[0] === "login")!;
    expect(login.argv).toEqual(["login", "--username", "AWS", "--password-stdin", registry.host]);
    expect(login.stdin).toBe(password);
    for (const c of all) expect(c.argv.join(" ")).not.toContain(password.slice(0, 20));
    const build = all.find((c) => c.argv[0] === "buildx" && c.argv[1] === "build")!;
    expect(build.argv).toEqual(expect.arrayContaining(["--platform", "linux/amd64", "--provenance=false", "--sbom=false", "--push", "-t", `${registry.host}/app:amd64`]));
    expect(build.context).toEqual(expect.arrayContaining(["Dockerfile", "package.json", "package-lock.json", "dist/function/index.mjs", "dist/function/package.json", "model/model.json", "model/labels.json"]));
  });

  it("falls back to docker build + docker push without buildx, and arm64 maps to linux/arm64", async () => {
    writeFileSync(log, "");
    const r = await new DockerBuilder({ env: fakeEnv(arm64Digest, { buildx: false }) }).build({ staged, architecture: "arm64", baseImage: base.ref, repository: `${registry.host}/app`, tag: "arm64" });
    expect(r.digest).toBe(arm64Digest);
    const all = calls().map((c) => c.argv);
    expect(all.find((a) => a[0] === "build")).toEqual(expect.arrayContaining(["--platform", "linux/arm64", "-t", `${registry.host}/app:arm64`]));
    expect(all.find((a) => a[0] === "push")).toEqual(["push", `${registry.host}/app:arm64`]);
  });

  it("refuses what docker pushed when it is for the wrong architecture", async () => {
    writeFileSync(log, "");
    const build = new DockerBuilder({ env: fakeEnv(arm64Digest) }).build({ staged, architecture: "x86_64", baseImage: base.ref, repository: `${registry.host}/app`, tag: "amd64" });
    await expect(build).rejects.toThrow(/image refused before deploy: the image is linux\/arm64 but the function's architecture is x86_64/);
  });
});
