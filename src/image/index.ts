/**
 * The image room's front door: pick a builder (docker when a daemon answers, else the daemonless
 * OCI builder) and turn ECR's authorization token into registry credentials.
 */
import { execa } from "execa";
import type { ImageBuilder, RegistryAuth } from "./builder.js";
import { DockerBuilder } from "./docker.js";
import { OciBuilder } from "./oci.js";

export type BuilderChoice = "auto" | "docker" | "oci";

export interface SelectOptions {
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** True when `docker info` reaches a daemon (the CLI alone is not enough to build). */
export async function dockerDaemonAvailable(opts: SelectOptions = {}): Promise<boolean> {
  try {
    const r = await execa("docker", ["info", "--format", "{{.ServerVersion}}"], {
      env: opts.env,
      cancelSignal: opts.signal,
      reject: false,
      timeout: 15_000,
      stdin: "ignore",
    });
    return r.exitCode === 0 && r.stdout.trim() !== "";
  } catch {
    return false;
  }
}

export async function selectBuilder(choice: BuilderChoice = "auto", opts: SelectOptions = {}): Promise<ImageBuilder> {
  if (choice === "oci") return new OciBuilder({ env: opts.env });
  if (choice === "docker") return new DockerBuilder({ env: opts.env });
  return (await dockerDaemonAvailable(opts)) ? new DockerBuilder({ env: opts.env }) : new OciBuilder({ env: opts.env });
}

/**
 * ECR's GetAuthorizationToken answers base64("AWS:<password>"); registries want that pair as
 * basic auth. The password is long (over 1 KB) and valid for 12 hours: fetch it once per run.
 */
export function registryAuthFromEcrToken(authorizationToken: string): RegistryAuth {
  const decoded = Buffer.from(authorizationToken, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) throw new Error("ECR authorization token is not base64 of user:password");
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export type { BuildRequest, BuildResult, ImageBuilder, LayerInfo, RegistryAuth } from "./builder.js";
