/**
 * The docker builder: a build context with the staged function and imgfn's Dockerfile, then
 * `docker buildx build --platform linux/<arch> --provenance=false --sbom=false --push` (plain
 * `docker build` + `docker push` without buildx), and the same preflight as the oci builder.
 * Registry passwords go to `docker login` on stdin, never in argv.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { UserError } from "../errors.js";
import { packageRoot } from "../paths.js";
import type { BuildRequest, BuildResult, ImageBuilder, LayerInfo } from "./builder.js";
import { functionPackageFiles } from "./node-modules.js";
import { preflight } from "./preflight.js";
import { ociArch, parseRepository } from "./reference.js";
import { RegistryClient } from "./registry.js";

export interface DockerBuilderOptions {
  env?: NodeJS.ProcessEnv;
  /** The docker executable (default: docker on PATH). */
  docker?: string;
}

/** Writes the docker build context: Dockerfile, function package files, dist/function, model. */
export async function writeDockerContext(req: Pick<BuildRequest, "staged">, dir: string): Promise<void> {
  await mkdir(join(dir, "dist", "function"), { recursive: true });
  await cp(join(packageRoot(), "Dockerfile"), join(dir, "Dockerfile"));
  const { packageJson, lock } = await functionPackageFiles();
  await writeFile(join(dir, "package.json"), packageJson);
  if (lock) await writeFile(join(dir, "package-lock.json"), lock);
  for (const rel of req.staged.files.handler) await cp(join(req.staged.dir, rel), join(dir, "dist", "function", rel));
  for (const rel of req.staged.files.model) await cp(join(req.staged.dir, rel), join(dir, rel), { recursive: true });
  await writeFile(join(dir, ".dockerignore"), "node_modules\n");
}

export class DockerBuilder implements ImageBuilder {
  readonly name = "docker" as const;
  constructor(private readonly opts: DockerBuilderOptions = {}) {}

  private docker(args: string[], o: { input?: string; signal?: AbortSignal; onLine?: (l: string) => void } = {}) {
    const p = execa(this.opts.docker ?? "docker", args, {
      env: this.opts.env,
      extendEnv: !this.opts.env,
      input: o.input,
      stdin: o.input === undefined ? "ignore" : undefined,
      cancelSignal: o.signal,
      reject: false,
      all: true,
      stripFinalNewline: true,
    });
    if (o.onLine) p.all?.on("data", (d: Buffer) => d.toString().split("\n").filter(Boolean).forEach(o.onLine!));
    return p;
  }

  async build(req: BuildRequest): Promise<BuildResult> {
    if (!req.repository) {
      throw new UserError("the docker builder pushes to a registry and needs a repository", { hint: "pass --push <registry>/<repository>, or use --builder oci to build without a registry" });
    }
    if (req.output) throw new UserError("--output (an OCI layout) is written by the oci builder only", { hint: "use --builder oci" });
    const progress = req.onProgress ?? (() => {});
    const target = parseRepository(req.repository);
    const platform = `linux/${ociArch(req.architecture)}`;
    const tag = req.tag ?? "latest";
    const image = `${target.registry}/${target.repository}:${tag}`;
    const ctx = await mkdtemp(join(tmpdir(), "imgfn-docker-"));
    try {
      await writeDockerContext(req, ctx);
      if (req.auth) {
        progress(`docker login ${target.registry}`);
        const login = await this.docker(["login", "--username", req.auth.username, "--password-stdin", target.registry], { input: req.auth.password, signal: req.signal });
        if (login.exitCode !== 0) throw new UserError(`docker login to ${target.registry} failed: ${lastLines(login.all)}`, { hint: "check the registry credentials" });
      }
      const buildArgs = ["--build-arg", `BASE_IMAGE=${req.baseImage}`];
      const hasBuildx = (await this.docker(["buildx", "version"], { signal: req.signal })).exitCode === 0;
      let digest: string | undefined;
      if (hasBuildx) {
        const meta = join(ctx, "..", `${ctx.split("/").pop()}-metadata.json`);
        progress(`docker buildx build --platform ${platform}`);
        const r = await this.docker(["buildx", "build", "--platform", platform, "--provenance=false", "--sbom=false", ...buildArgs, "-t", image, "--push", "--metadata-file", meta, ctx], {
          signal: req.signal,
          onLine: (l) => progress(l),
        });
        if (r.exitCode !== 0) throw new UserError(`docker buildx build failed: ${lastLines(r.all)}`, { hint: "see docker's output above; or try --builder oci (no Docker needed)" });
        digest = await readFile(meta, "utf8").then((t) => JSON.parse(t)["containerimage.digest"], () => undefined);
        await rm(meta, { force: true });
      } else {
        progress(`docker build --platform ${platform} (buildx not available)`);
        const r = await this.docker(["build", "--platform", platform, ...buildArgs, "-t", image, ctx], { signal: req.signal, onLine: (l) => progress(l) });
        if (r.exitCode !== 0) throw new UserError(`docker build failed: ${lastLines(r.all)}`, { hint: "see docker's output; or try --builder oci (no Docker needed)" });
        const push = await this.docker(["push", image], { signal: req.signal, onLine: (l) => progress(l) });
        if (push.exitCode !== 0) throw new UserError(`docker push ${image} failed: ${lastLines(push.all)}`, { hint: "check docker login for the registry" });
        digest = /digest: (sha256:[0-9a-f]{64})/.exec(push.all ?? "")?.[1];
      }
      const client = new RegistryClient(target.registry, { auth: req.auth, ca: req.ca, signal: req.signal });
      try {
        if (!digest) digest = await client.headManifest(target.repository, tag);
        if (!digest) throw new UserError(`docker pushed ${image} but its digest could not be read`);
        progress("checking the pushed image (preflight)");
        await preflight(client, target.repository, digest, req.architecture);
        const m = await client.getManifest(target.repository, digest);
        const layers: LayerInfo[] = (m.json.layers as any[]).map((l, i) => ({ digest: l.digest, size: l.size, description: `layer ${i + 1}` }));
        return {
          digest,
          imageUri: `${target.registry}/${target.repository}@${digest}`,
          layers,
          uploadedBytes: 0, // docker does not say; the oci builder counts
          mediaType: m.mediaType,
          configDigest: m.json.config?.digest,
          baseImage: req.baseImage,
        };
      } finally {
        await client.close();
      }
    } finally {
      await rm(ctx, { recursive: true, force: true });
    }
  }
}

function lastLines(text: string | undefined, n = 8): string {
  return (text ?? "").trim().split("\n").slice(-n).join("\n");
}
