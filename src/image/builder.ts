/**
 * One interface for the builders that turn a staged function into an image in a registry:
 * docker (docker buildx) and oci (daemonless). deploy and `imgfn build` only see this.
 */
import type { Architecture } from "../config.js";
import type { StagedFunction } from "./stage.js";

export interface RegistryAuth {
  username: string;
  password: string;
}

export interface BuildRequest {
  staged: StagedFunction;
  architecture: Architecture;
  /** e.g. public.ecr.aws/lambda/nodejs:22 */
  baseImage: string;
  /** Where to push: registry host[:port]/repository (no tag); undefined = build only. */
  repository?: string;
  /** Tag pushed alongside the digest (the function is always updated by digest). */
  tag?: string;
  auth?: RegistryAuth;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface LayerInfo {
  digest: string;
  /** Compressed bytes. */
  size: number;
  description: string;
}

export interface BuildResult {
  /** sha256:… of the pushed (or locally computed) manifest. */
  digest: string;
  /** repository@digest, when pushed. */
  imageUri?: string;
  layers: LayerInfo[];
  /** Bytes actually sent to the registry (0 when nothing changed). */
  uploadedBytes: number;
  baseDigest?: string;
}

export interface ImageBuilder {
  readonly name: "docker" | "oci";
  build(request: BuildRequest): Promise<BuildResult>;
}
