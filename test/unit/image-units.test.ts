/** Layer determinism, references, auth challenges and preflight rules (no network). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BlobStore, buildLayer, normaliseEntries } from "../../src/image/layer.js";
import { fitsLambda } from "../../src/image/node-modules.js";
import { checkImage, MT } from "../../src/image/preflight.js";
import { isLoopback, parseReference, parseRepository } from "../../src/image/reference.js";
import { parseChallenge } from "../../src/image/registry.js";
import { readLayer } from "../helpers/registry.js";

const work = mkdtempSync(join(tmpdir(), "imgfn-unit-image-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("layers", () => {
  it("are byte-identical for the same files, whatever the order, store or file times", async () => {
    const a = join(work, "a.txt");
    const b = join(work, "b.sh");
    writeFileSync(a, "hello\n");
    writeFileSync(b, "#!/bin/sh\n", { mode: 0o700 });
    const one = await buildLayer([{ path: "var/task/b.sh", type: "file", source: b }, { path: "var/task/a.txt", type: "file", source: a }], { store: new BlobStore({}, join(work, "s1")) });
    writeFileSync(a, "hello\n"); // new mtime, same bytes
    const two = await buildLayer([{ path: "var/task/a.txt", type: "file", source: a }, { path: "var/task/b.sh", type: "file", source: b }], { store: new BlobStore({}, join(work, "s2")), useCache: false });
    expect(two.digest).toBe(one.digest);
    expect(two.diffId).toBe(one.diffId);
    const gz = readFileSync(one.path);
    expect(gz.readUInt32LE(4)).toBe(0); // gzip mtime
    expect(gz[9]).toBe(255); // OS byte fixed
    const entries = await readLayer(gz);
    expect([...entries.keys()]).toEqual(["var/", "var/task/", "var/task/a.txt", "var/task/b.sh"]);
    expect(entries.get("var/task/a.txt")!.mode).toBe(0o644);
    expect(entries.get("var/task/b.sh")!.mode).toBe(0o755);
    expect(entries.get("var/")!.mode).toBe(0o755);
    for (const e of entries.values()) expect([e.uid, e.mtime]).toEqual([0, 0]);
  });

  it("change when a file's content changes", async () => {
    const f = join(work, "c.txt");
    writeFileSync(f, "one");
    const store = new BlobStore({}, join(work, "s3"));
    const x = await buildLayer([{ path: "c.txt", type: "file", source: f }], { store });
    writeFileSync(f, "two");
    const y = await buildLayer([{ path: "c.txt", type: "file", source: f }], { store });
    expect(y.digest).not.toBe(x.digest);
  });

  it("honour SOURCE_DATE_EPOCH through the epoch option", async () => {
    const layer = await buildLayer([{ path: "x", type: "file", content: Buffer.from("x") }], { store: new BlobStore({}, join(work, "s4")), epoch: 1_700_000_000 });
    expect((await readLayer(readFileSync(layer.path))).get("x")!.mtime).toBe(1_700_000_000_000);
  });

  it("list parent directories before their children", () => {
    expect(normaliseEntries([{ path: "a/b/c", type: "file", content: Buffer.from("") }, { path: "a/a", type: "file", content: Buffer.from("") }]).map((e) => e.path)).toEqual(["a", "a/a", "a/b", "a/b/c"]);
  });
});

describe("references", () => {
  it("split registry, repository, tag and digest", () => {
    expect(parseReference("public.ecr.aws/lambda/nodejs:22")).toEqual({ registry: "public.ecr.aws", repository: "lambda/nodejs", tag: "22", digest: undefined });
    expect(parseReference("127.0.0.1:5000/app")).toMatchObject({ registry: "127.0.0.1:5000", repository: "app", tag: "latest" });
    expect(parseReference("node:22")).toMatchObject({ registry: "registry-1.docker.io", repository: "library/node", tag: "22" });
    const d = "sha256:" + "a".repeat(64);
    expect(parseReference(`localhost:5000/a/b@${d}`)).toMatchObject({ registry: "localhost:5000", repository: "a/b", digest: d });
    expect(() => parseReference("Bad/Name")).toThrow(/bad repository/);
  });

  it("loopback registries (plain HTTP by default) include *.localhost and LocalStack's ECR hosts, nothing else", () => {
    for (const host of ["localhost:5000", "127.0.0.1:5000", "[::1]:5000", "000000000000.dkr.ecr.us-east-1.localhost.localstack.cloud:4566", "registry.localhost"]) {
      expect(isLoopback(host), host).toBe(true);
    }
    for (const host of ["123456789012.dkr.ecr.eu-west-1.amazonaws.com", "public.ecr.aws", "localhost.example.com:5000", "evil-localhost:5000"]) {
      expect(isLoopback(host), host).toBe(false);
    }
  });

  it("refuse a tag where a repository is wanted", () => {
    expect(parseRepository("123456789012.dkr.ecr.eu-west-1.amazonaws.com/imgfn-app")).toEqual({ registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", repository: "imgfn-app" });
    expect(() => parseRepository("127.0.0.1:5000/app:v1")).toThrow(/without tag/);
  });
});

describe("auth challenges", () => {
  it("parse public.ecr.aws-style bearer challenges", () => {
    expect(parseChallenge('Bearer realm="https://public.ecr.aws/token/",service="public.ecr.aws",scope="aws"')).toEqual({ scheme: "bearer", params: { realm: "https://public.ecr.aws/token/", service: "public.ecr.aws", scope: "aws" } });
    expect(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/node:pull,push"').params.scope).toBe("repository:library/node:pull,push");
    expect(parseChallenge('Basic realm="imgfn"').scheme).toBe("basic");
  });
});

describe("platform packages", () => {
  it("fit Lambda only for linux, the function's cpu and glibc", () => {
    expect(fitsLambda({ os: ["linux"], cpu: ["x64"], libc: ["glibc"] }, "x86_64")).toBe(true);
    expect(fitsLambda({ os: ["linux"], cpu: ["x64"], libc: ["musl"] }, "x86_64")).toBe(false);
    expect(fitsLambda({ os: ["linux"], cpu: ["arm64"] }, "x86_64")).toBe(false);
    expect(fitsLambda({ os: ["darwin"], cpu: ["arm64"] }, "arm64")).toBe(false);
    expect(fitsLambda({ os: ["!win32"] }, "arm64")).toBe(true);
    expect(fitsLambda({}, "arm64")).toBe(true);
  });
});

describe("preflight rules", () => {
  const manifest = (over: Record<string, unknown> = {}) => ({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: MT.ociConfig, digest: "sha256:" + "1".repeat(64), size: 100 },
    layers: [{ mediaType: MT.ociLayerGzip, digest: "sha256:" + "2".repeat(64), size: 1000 }],
    ...over,
  });
  const config = { os: "linux", architecture: "amd64" };

  it("accept a single-platform OCI or Docker manifest for the right platform", () => {
    expect(() => checkImage({ mediaType: MT.ociManifest, manifest: manifest(), config, architecture: "x86_64" })).not.toThrow();
    const docker = manifest({ mediaType: MT.dockerManifest, config: { mediaType: MT.dockerConfig, digest: "sha256:" + "1".repeat(64), size: 1 }, layers: [{ mediaType: MT.dockerLayerGzip, digest: "sha256:" + "3".repeat(64), size: 1 }] });
    expect(() => checkImage({ mediaType: MT.dockerManifest, manifest: docker, config: { os: "linux", architecture: "arm64" }, architecture: "arm64" })).not.toThrow();
  });

  it("refuse zstd layers with the gzip fix", () => {
    const m = manifest({ layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", digest: "sha256:" + "2".repeat(64), size: 1 }] });
    expect(() => checkImage({ mediaType: MT.ociManifest, manifest: m, config, architecture: "x86_64" })).toThrow(/tar\+zstd, which Lambda does not accept/);
  });

  it("refuse an attestation manifest", () => {
    const m = manifest({ config: { mediaType: "application/vnd.in-toto+json", digest: "sha256:" + "1".repeat(64), size: 1 } });
    expect(() => checkImage({ mediaType: MT.ociManifest, manifest: m, architecture: "x86_64" })).toThrow(/attestation manifest/);
    expect(() => checkImage({ mediaType: MT.ociManifest, manifest: manifest(), config: { os: "unknown", architecture: "unknown" }, architecture: "x86_64" })).toThrow(/unknown\/unknown/);
  });

  it("refuse an image over Lambda's 10 GB limit", () => {
    expect(() => checkImage({ mediaType: MT.ociManifest, manifest: manifest(), config, architecture: "x86_64", uncompressedSize: 11 * 1024 ** 3 })).toThrow(/over Lambda's 10 GB limit/);
  });

  it("refuse schema 1 manifests", () => {
    expect(() => checkImage({ mediaType: "application/vnd.docker.distribution.manifest.v1+prettyjws", manifest: { schemaVersion: 1 }, architecture: "x86_64" })).toThrow(/not one Lambda accepts/);
  });
});
