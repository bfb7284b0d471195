/**
 * A real container registry for tests: Debian's docker-registry (distribution) on a free loopback
 * port, optionally with htpasswd basic auth and TLS from a throwaway CA. Plus a synthetic Lambda
 * base image (tests cannot reach public.ecr.aws).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { Agent, request } from "undici";
import { RegistryClient } from "../../src/image/registry.js";

export interface TestRegistry {
  /** host:port */
  host: string;
  url: string;
  /** PEM CA certificate when started with tls. */
  ca?: string;
  dir: string;
  log: () => string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startRegistry(opts: { auth?: { username: string; password: string }; tls?: boolean } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), "imgfn-registry-"));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let yml = `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${dir}/data
  delete:
    enabled: true
http:
  addr: ${host}
  secret: imgfn-test-secret
`;
  let ca: string | undefined;
  if (opts.tls) {
    const o = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    o(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=imgfn test CA"]);
    o(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
    writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n");
    o(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext"]);
    ca = readFileSync(join(dir, "ca.pem"), "utf8");
    yml += `  tls:\n    certificate: ${dir}/server.pem\n    key: ${dir}/server.key\n`;
  }
  if (opts.auth) {
    // bcrypt reads only the first 72 bytes of a password; htpasswd refuses long ones, so hash
    // the prefix: the registry then accepts the whole (ECR-sized) password, as bcrypt ignores the rest.
    const line = execFileSync("htpasswd", ["-Bbn", opts.auth.username, opts.auth.password.slice(0, 72)], { encoding: "utf8" }).trim();
    writeFileSync(join(dir, "htpasswd"), line + "\n");
    yml += `auth:\n  htpasswd:\n    realm: imgfn-test\n    path: ${dir}/htpasswd\n`;
  }
  writeFileSync(join(dir, "config.yml"), yml);
  let output = "";
  const child: ChildProcess = spawn("/usr/bin/docker-registry", ["serve", join(dir, "config.yml")], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const url = `${opts.tls ? "https" : "http"}://${host}`;
  const dispatcher = new Agent({ connect: ca ? { ca } : {} });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${output}`);
    try {
      const r = await request(`${url}/v2/`, { dispatcher });
      await r.body.dump();
      if (r.statusCode === 200 || r.statusCode === 401) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${url}: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await dispatcher.close();
  return {
    host,
    url,
    ca,
    dir,
    log: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const sha = (b: Buffer) => "sha256:" + createHash("sha256").update(b).digest("hex");

async function tarOf(files: { name: string; body?: string; mode?: number; type?: "directory" }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on("end", () => r()));
  for (const f of files) {
    await new Promise<void>((res, rej) =>
      f.type === "directory"
        ? p.entry({ name: f.name, type: "directory", mode: f.mode ?? 0o755, mtime: new Date(0) }, (e) => (e ? rej(e) : res()))
        : p.entry({ name: f.name, mode: f.mode ?? 0o644, mtime: new Date(0) }, f.body ?? "", (e) => (e ? rej(e) : res())),
    );
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const BASE_ENV = ["PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin", "LANG=en_US.UTF-8", "TZ=:/etc/localtime", "LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime"];

/**
 * Pushes a tiny stand-in for public.ecr.aws/lambda/nodejs:22 as an OCI index with linux/amd64
 * and linux/arm64 (one shared layer, one config each, Docker v2 schema 2 manifests like AWS's).
 */
export async function pushSyntheticBase(registry: TestRegistry, repository: string, opts: { auth?: { username: string; password: string }; tag?: string } = {}): Promise<{ ref: string; indexDigest: string; platforms: Record<string, string> }> {
  const client = new RegistryClient(registry.host, { auth: opts.auth, ca: registry.ca });
  try {
    const tar = await tarOf([
      { name: "lambda-entrypoint.sh", body: "#!/bin/sh\nexec /usr/local/bin/aws-lambda-rie /var/lang/bin/node \"$@\"\n", mode: 0o755 },
      { name: "var/", type: "directory" },
      { name: "var/runtime/", type: "directory" },
      { name: "var/runtime/bootstrap", body: "#!/bin/sh\n", mode: 0o755 },
      { name: "var/task/", type: "directory" },
    ]);
    const layer = gzipSync(tar);
    const layerDigest = sha(layer);
    await client.uploadBlob(repository, layerDigest, layer);
    const platforms: Record<string, string> = {};
    const index: any = { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [] };
    for (const arch of ["amd64", "arm64"]) {
      const config = Buffer.from(
        JSON.stringify({
          architecture: arch,
          os: "linux",
          config: { Env: BASE_ENV, Entrypoint: ["/lambda-entrypoint.sh"], WorkingDir: "/var/task", Cmd: ["app.handler"] },
          created: "2025-01-01T00:00:00Z",
          history: [{ created: "2025-01-01T00:00:00Z", created_by: "synthetic lambda base" }],
          rootfs: { type: "layers", diff_ids: [sha(tar)] },
        }),
      );
      await client.uploadBlob(repository, sha(config), config);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: "application/vnd.docker.distribution.manifest.v2+json",
          config: { mediaType: "application/vnd.docker.container.image.v1+json", digest: sha(config), size: config.length },
          layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", digest: layerDigest, size: layer.length }],
        }),
      );
      platforms[arch] = await client.putManifest(repository, sha(manifest), manifest, "application/vnd.docker.distribution.manifest.v2+json");
      index.manifests.push({ mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: sha(manifest), size: manifest.length, platform: { architecture: arch, os: "linux", ...(arch === "arm64" ? { variant: "v8" } : {}) } });
    }
    const indexBytes = Buffer.from(JSON.stringify(index));
    const tag = opts.tag ?? "22";
    await client.putManifest(repository, tag, indexBytes, index.mediaType);
    return { ref: `${registry.host}/${repository}:${tag}`, indexDigest: sha(indexBytes), platforms };
  } finally {
    await client.close();
  }
}

/** Entries of a gzip tar layer: path → { mode, size, body (for small files) }. */
export async function readLayer(gz: Buffer): Promise<Map<string, { mode: number; size: number; type: string; uid: number; mtime: number; body: Buffer }>> {
  const { extract } = await import("tar-stream");
  const { gunzipSync } = await import("node:zlib");
  const ex = extract();
  const out = new Map<string, { mode: number; size: number; type: string; uid: number; mtime: number; body: Buffer }>();
  const done = new Promise<void>((resolve, reject) => {
    ex.on("entry", (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => void chunks.push(c as Buffer));
      stream.on("end", () => {
        out.set(h.name, { mode: h.mode ?? 0, size: h.size ?? 0, type: h.type ?? "file", uid: h.uid ?? -1, mtime: h.mtime?.getTime() ?? -1, body: Buffer.concat(chunks) });
        next();
      });
    });
    ex.on("finish", resolve);
    ex.on("error", reject);
  });
  ex.end(gunzipSync(gz));
  await done;
  return out;
}
