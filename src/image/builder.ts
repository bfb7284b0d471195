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
  /** The push registry speaks plain HTTP (an emulator's http:// endpoint); default: loopback only. */
  plainHttp?: boolean;
  /** Credentials for the base image's registry when it differs from the target (default: anonymous). */
  baseAuth?: RegistryAuth;
  /** PEM CA certificate(s) trusted for the target registry's TLS (self-signed or private CA). */
  ca?: string | Buffer;
  /** The same for the base image's registry, when it differs from the target. */
  baseCa?: string | Buffer;
  /** Also (or only) write the image as an OCI layout directory (oci builder). */
  output?: string;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface LayerInfo {
  digest: string;
  /** Compressed bytes. */
  size: number;
  description: string;
  /** base layers come from the base image; the rest are the function's. */
  kind?: "base" | "node_modules" | "model" | "handler";
  /** Uncompressed tar bytes (known for the function's layers). */
  uncompressedSize?: number;
  /** True when this build sent the layer's bytes to the registry. */
  uploaded?: boolean;
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
  /** The base image as built from: name@digest of its linux/<arch> manifest. */
  baseImage?: string;
  /** Manifest media type (OCI image manifest or Docker v2 schema 2). */
  mediaType?: string;
  configDigest?: string;
  /** Where the OCI layout was written (request.output). */
  output?: string;
}

export interface ImageBuilder {
  readonly name: "docker" | "oci";
  build(request: BuildRequest): Promise<BuildResult>;
}
