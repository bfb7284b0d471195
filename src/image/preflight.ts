/**
 * The last check before Lambda sees an image: read the pushed manifest back by digest and refuse
 * anything Lambda would reject (an index, an attestation, the wrong platform, a media type it
 * does not take, or an image over its size limit), saying why and how to fix it.
 */
import type { Architecture } from "../config.js";
import { UserError } from "../errors.js";
import type { RegistryClient } from "./registry.js";
import { ociArch } from "./reference.js";

export const MT = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerTar: "application/vnd.oci.image.layer.v1.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

const MANIFEST_TYPES: string[] = [MT.ociManifest, MT.dockerManifest];
const CONFIG_TYPES: string[] = [MT.ociConfig, MT.dockerConfig];
const LAYER_TYPES: string[] = [MT.ociLayerGzip, MT.ociLayerTar, MT.dockerLayerGzip];

/** Lambda's limit: 10 GB for the uncompressed image, all layers together. */
export const LAMBDA_IMAGE_LIMIT = 10 * 1024 ** 3;

export class PreflightError extends UserError {
  constructor(message: string, hint: string) {
    super(`image refused before deploy: ${message}`, { hint });
    this.name = "PreflightError";
  }
}

export interface PreflightInput {
  mediaType: string;
  manifest: any;
  /** The image config (not needed when the manifest is already refused). */
  config?: any;
  architecture: Architecture;
  /** Uncompressed bytes, when known (imgfn's own layers); else compressed sizes are used. */
  uncompressedSize?: number;
}

export interface PreflightReport {
  digest: string;
  mediaType: string;
  platform: string;
  compressedSize: number;
  layers: number;
}

/** The checks, without network: throws PreflightError on the first problem. */
export function checkImage(input: PreflightInput): void {
  const { manifest, architecture } = input;
  const want = `linux/${ociArch(architecture)}`;
  const mediaType = input.mediaType || manifest.mediaType;
  const buildFix = `rebuild for one platform: docker buildx build --platform ${want} --provenance=false --sbom=false (imgfn build does this)`;
  if (mediaType === MT.ociIndex || mediaType === MT.dockerList || Array.isArray(manifest.manifests)) {
    const entries: any[] = manifest.manifests ?? [];
    const attestations = entries.filter((m) => m.annotations?.["vnd.docker.reference.type"] === "attestation-manifest" || (m.platform?.os === "unknown" && m.platform?.architecture === "unknown"));
    const platforms = entries.filter((m) => !attestations.includes(m)).map((m) => `${m.platform?.os}/${m.platform?.architecture}`);
    throw new PreflightError(
      attestations.length
        ? `it is an image index with ${attestations.length} attestation manifest${attestations.length > 1 ? "s" : ""} (provenance/SBOM) beside ${platforms.join(", ") || "no platform"}; Lambda takes a single-platform image manifest only`
        : `it is a multi-platform image index (${platforms.join(", ")}); Lambda takes a single-platform image manifest only`,
      buildFix,
    );
  }
  if (!MANIFEST_TYPES.includes(mediaType)) {
    throw new PreflightError(`manifest media type ${mediaType || "(none)"} is not one Lambda accepts (${MANIFEST_TYPES.join(" or ")})`, buildFix);
  }
  const configType = manifest.config?.mediaType;
  if (!CONFIG_TYPES.includes(configType)) {
    const attestation = /in-toto|attestation|spdx|cyclonedx/i.test(String(configType));
    throw new PreflightError(
      attestation ? `it is an attestation manifest (config ${configType}), not a runnable image` : `config media type ${configType} is not an image config Lambda accepts`,
      buildFix,
    );
  }
  for (const l of manifest.layers ?? []) {
    if (!LAYER_TYPES.includes(l.mediaType)) {
      const zstd = /zstd/.test(l.mediaType);
      throw new PreflightError(
        `layer ${String(l.digest).slice(0, 19)} has media type ${l.mediaType}, which Lambda does not accept`,
        zstd ? "rebuild with gzip layers (docker buildx: --output type=image,compression=gzip,force-compression=true)" : "rebuild the image with gzip-compressed tar layers",
      );
    }
  }
  const config = input.config;
  if (config) {
    const os = config.os;
    const arch = config.architecture;
    if (os === "unknown" || arch === "unknown") throw new PreflightError(`it is an attestation manifest (platform unknown/unknown), not a runnable image`, buildFix);
    if (`${os}/${arch}` !== want) {
      const lambdaName = arch === "amd64" ? "x86_64" : arch === "arm64" ? "arm64" : arch;
      throw new PreflightError(
        `the image is ${os}/${arch} but the function's architecture is ${architecture} (${want})`,
        lambdaName === "x86_64" || lambdaName === "arm64"
          ? `rebuild with --arch ${architecture} (or set "architecture": "${lambdaName}" to run this image as it is)`
          : `rebuild with --arch ${architecture}`,
      );
    }
  }
  const compressed = (manifest.layers ?? []).reduce((n: number, l: any) => n + (l.size ?? 0), 0) + (manifest.config?.size ?? 0);
  const size = Math.max(compressed, input.uncompressedSize ?? 0);
  if (size > LAMBDA_IMAGE_LIMIT) {
    throw new PreflightError(
      `the image is ${(size / 1024 ** 3).toFixed(2)} GiB${input.uncompressedSize ? " uncompressed" : " compressed"}, over Lambda's 10 GB limit`,
      "use a smaller model or base image, or drop files from the image",
    );
  }
}

/** Reads the pushed image back by digest and checks it. */
export async function preflight(client: RegistryClient, repository: string, digest: string, architecture: Architecture, opts: { uncompressedSize?: number } = {}): Promise<PreflightReport> {
  const m = await client.getManifest(repository, digest);
  let config: any;
  if (MANIFEST_TYPES.includes(m.mediaType) && CONFIG_TYPES.includes(m.json.config?.mediaType)) {
    config = JSON.parse((await client.getBlob(repository, m.json.config.digest)).toString("utf8"));
  }
  checkImage({ mediaType: m.mediaType, manifest: m.json, config, architecture, uncompressedSize: opts.uncompressedSize });
  return {
    digest: m.digest,
    mediaType: m.mediaType,
    platform: `${config.os}/${config.architecture}`,
    compressedSize: (m.json.layers ?? []).reduce((n: number, l: any) => n + l.size, 0),
    layers: m.json.layers.length,
  };
}
