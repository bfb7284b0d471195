/**
 * imgfn build: the function image, built daemonless (oci) or with Docker, pushed to a registry
 * and/or written as an OCI layout. Prints the digest and each layer's size.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Architecture, loadConfig } from "../config.js";
import { ConfigError } from "../errors.js";
import type { BuildResult, RegistryAuth } from "../image/builder.js";
import { baseImageAccess } from "../image/credentials.js";
import { type BuilderChoice, selectBuilder } from "../image/index.js";
import { parseRepository } from "../image/reference.js";
import { stageFunction } from "../image/stage.js";
import { formatBytes } from "../ui/output.js";
import { defineCommand, type Context } from "./command.js";
import { loadModelStep, modelOptions } from "./model-options.js";

const ECR_HOST = /^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

/** Push credentials: IMGFN_REGISTRY_USERNAME/PASSWORD (never flags: argv is visible), or ECR's token. */
async function pushAuth(ctx: Context, registry: string): Promise<RegistryAuth | undefined> {
  const { IMGFN_REGISTRY_USERNAME: username, IMGFN_REGISTRY_PASSWORD: password } = ctx.env;
  if (username && password) return { username, password };
  if (ECR_HOST.test(registry)) {
    // The registry's host names its region: <account>.dkr.ecr.<region>.amazonaws.com
    const { registryLogin } = await import("../aws/ecr.js");
    const { ECRClient } = await import("@aws-sdk/client-ecr");
    const ecr = new ECRClient({ region: registry.split(".")[3], ...(ctx.globals.profile ? { profile: ctx.globals.profile } : {}) });
    const { username: u, password: p } = await registryLogin(ecr);
    return { username: u, password: p };
  }
  return undefined;
}

export const buildCommand = defineCommand({
  examples: ["build --output image-layout/", "build --push 127.0.0.1:5000/imgfn-app --tag v1", "build --arch arm64 --push 123456789012.dkr.ecr.eu-west-1.amazonaws.com/imgfn-app", "build --builder docker --push 127.0.0.1:5000/imgfn-app"],
  globals: ["json", "profile", "config"],
  options: (cmd) => {
    cmd
      .option("--arch <arch>", "x86_64 or arm64 (default: the config's architecture)")
      .option("--builder <builder>", "auto (docker when a daemon answers, else oci), docker, or oci", "auto")
      .option("--push <repository>", "push to registry/repository, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/imgfn-app")
      .option("--tag <tag>", "tag to push beside the digest", "latest")
      .option("--output <dir>", "write the image as an OCI layout directory (oci builder)")
      .option("--base-image <ref>", "base image (default: public.ecr.aws/lambda/nodejs:22, or the config's)")
      .option("--registry-ca <pem-file>", "trust this CA certificate for the registry's TLS")
      .addHelpText("after", "\nRegistry credentials: ECR registries log in with your AWS credentials; others read IMGFN_REGISTRY_USERNAME and IMGFN_REGISTRY_PASSWORD.");
    modelOptions(cmd);
  },
  async run(ctx, opts) {
    if (opts.arch !== undefined && opts.arch !== "x86_64" && opts.arch !== "arm64") throw new ConfigError(`--arch must be x86_64 or arm64 (got "${opts.arch}")`);
    if (!["auto", "docker", "oci"].includes(opts.builder)) throw new ConfigError(`--builder must be auto, docker or oci (got "${opts.builder}")`);
    const config = loadConfig(ctx.cwd, { architecture: opts.arch as Architecture | undefined, baseImage: opts.baseImage }, ctx.globals.config);
    if (!opts.push && !opts.output && opts.builder === "docker") throw new ConfigError("the docker builder needs --push <repository>", { hint: "or use --builder oci, which can build without a registry" });
    const builderChoice: BuilderChoice = !opts.push && opts.builder === "auto" ? "oci" : opts.builder;
    let target: string | undefined;
    if (opts.push) {
      try {
        const r = parseRepository(opts.push);
        target = `${r.registry}/${r.repository}`;
      } catch (err) {
        throw new ConfigError((err as Error).message, { hint: "e.g. --push 127.0.0.1:5000/imgfn-app --tag v1" });
      }
    }
    const ca = opts.registryCa ? await readFile(resolve(ctx.cwd, opts.registryCa)) : undefined;
    const spec = await loadModelStep(ctx, opts, { model: config.model, labels: config.labels });
    const dir = await mkdtemp(join(tmpdir(), "imgfn-build-"));
    try {
      const staged = await stageFunction(spec, join(dir, "task"));
      const auth = target ? await pushAuth(ctx, target.split("/")[0]) : undefined;
      const builder = await selectBuilder(builderChoice, { env: ctx.env, signal: ctx.signal });
      const result: BuildResult = await ctx.out.step(`Building for linux/${config.architecture === "x86_64" ? "amd64" : "arm64"} (${builder.name} builder)`, async (s) => {
        const r = await builder.build({
          staged,
          architecture: config.architecture,
          baseImage: config.baseImage,
          repository: target,
          tag: opts.tag,
          auth,
          ...(await baseImageAccess(config.baseImage, ca, ctx.env)),
          output: opts.output ? resolve(ctx.cwd, opts.output) : undefined,
          signal: ctx.signal,
          onProgress: (m) => s.update(m),
        });
        s.done(target ? (r.uploadedBytes ? `pushed ${formatBytes(r.uploadedBytes)}` : "registry already had every layer") : "built");
        return r;
      });
      ctx.out.result({ ...result, architecture: config.architecture, builder: builder.name });
      const { c } = ctx.out;
      ctx.out.print(`${c.bold("digest")}  ${result.digest}`);
      if (result.imageUri) ctx.out.print(`${c.bold("image")}   ${result.imageUri}`);
      if (result.baseImage) ctx.out.print(`${c.bold("base")}    ${result.baseImage}`);
      if (result.output) ctx.out.print(`${c.bold("layout")}  ${result.output}`);
      ctx.out.print("");
      ctx.out.print(
        ctx.out.table(
          [
            ["layer", "compressed", "uncompressed", ""].map((h) => c.dim(h)),
            ...result.layers.map((l) => [l.kind ?? "", formatBytes(l.size), l.uncompressedSize ? formatBytes(l.uncompressedSize) : "-", l.uploaded ? "pushed" : target ? c.dim("reused") : ""]),
          ],
          { indent: 0, shrink: [0] },
        ),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
});
