/**
 * The daemonless builder (ko's approach): take the base image's linux/<arch> manifest and config,
 * add three deterministic layers ordered by how often they change (node_modules, model,
 * handler), merge the config, and push blobs and a single-platform OCI manifest. Nothing runs
 * inside the image, so building arm64 on an x64 laptop needs no emulation.
 */
import { join } from "node:path";
import type { Architecture } from "../config.js";
import { UserError } from "../errors.js";
import type { BuildRequest, BuildResult, ImageBuilder, LayerInfo, RegistryAuth } from "./builder.js";
import { BlobStore, buildLayer, fixedEpoch, type BuiltLayer, type LayerEntry } from "./layer.js";
import { writeOciLayout } from "./layout.js";
import { nodeModulesEntries } from "./node-modules.js";
import { MT, preflight } from "./preflight.js";
import { formatReference, ociArch, parseReference, parseRepository, type ImageReference } from "./reference.js";
import { RegistryClient, sha256, type Manifest } from "./registry.js";
import type { StagedFunction } from "./stage.js";

export interface OciBuilderOptions {
  env?: NodeJS.ProcessEnv;
  /** Blob store (default ~/.cache/imgfn/blobs). */
  store?: BlobStore;
}

export interface AppLayer extends BuiltLayer {
  kind: "node_modules" | "model" | "handler";
  description: string;
}

const TASK_ROOT = "var/task";

/** The function's three layers, built (or reused from the store) deterministically. */
export async function buildAppLayers(staged: StagedFunction, architecture: Architecture, opts: { store: BlobStore; env?: NodeJS.ProcessEnv; signal?: AbortSignal; onProgress?: (m: string) => void }): Promise<AppLayer[]> {
  const epoch = fixedEpoch(opts.env);
  const { entries: nm, packages } = await nodeModulesEntries(architecture, { env: opts.env, signal: opts.signal, onProgress: opts.onProgress });
  const fileEntries = (files: string[]): LayerEntry[] => files.map((rel) => ({ path: `${TASK_ROOT}/${rel}`, type: "file", source: join(staged.dir, rel), executable: false }));
  const arch = ociArch(architecture);
  opts.onProgress?.("writing the node_modules layer");
  const nodeModules = await buildLayer(nm, { store: opts.store, epoch });
  opts.onProgress?.("writing the model and handler layers");
  const model = await buildLayer(fileEntries(staged.files.model), { store: opts.store, epoch });
  const handler = await buildLayer(fileEntries(staged.files.handler), { store: opts.store, epoch });
  return [
    { ...nodeModules, kind: "node_modules", description: `node_modules for linux/${arch}: ${packages.map((p) => `${p.name}@${p.version}`).join(", ")}` },
    { ...model, kind: "model", description: `model: ${staged.files.model.join(", ")}` },
    { ...handler, kind: "handler", description: `handler: ${staged.files.handler.join(", ")}` },
  ];
}

interface BaseImage {
  ref: ImageReference;
  /** name@digest of the platform manifest. */
  pinned: string;
  manifest: Manifest;
  config: any;
  client: RegistryClient;
}

export class OciBuilder implements ImageBuilder {
  readonly name = "oci" as const;
  private readonly store: BlobStore;
  constructor(private readonly opts: OciBuilderOptions = {}) {
    this.store = opts.store ?? new BlobStore(opts.env);
  }

  async build(req: BuildRequest): Promise<BuildResult> {
    const progress = req.onProgress ?? (() => {});
    const env = this.opts.env ?? process.env;
    const target = req.repository ? parseRepository(req.repository) : undefined;
    const baseRef = parseReference(req.baseImage);
    const sameRegistry = target?.registry === baseRef.registry;
    const baseAuth: RegistryAuth | undefined = sameRegistry ? req.auth : req.baseAuth;
    const baseClient = new RegistryClient(baseRef.registry, { auth: baseAuth, ca: sameRegistry ? req.ca : req.baseCa, plainHttp: sameRegistry ? req.plainHttp : undefined, signal: req.signal });
    const client = target ? (sameRegistry ? baseClient : new RegistryClient(target.registry, { auth: req.auth, ca: req.ca, plainHttp: req.plainHttp, signal: req.signal })) : undefined;
    try {
      progress(`resolving ${req.baseImage}`);
      const base = await resolveBase(baseClient, baseRef, req.architecture);
      const appLayers = await buildAppLayers(req.staged, req.architecture, { store: this.store, env, signal: req.signal, onProgress: progress });
      const epoch = fixedEpoch(env);
      const created = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, "Z");

      // Config: the base's, with our layers, platform, working directory and handler.
      const baseLayers: any[] = base.manifest.json.layers;
      const config = structuredClone(base.config);
      config.architecture = ociArch(req.architecture);
      config.os = "linux";
      if (base.config.architecture !== config.architecture) delete config.variant;
      config.created = created;
      config.config = { ...(config.config ?? {}), WorkingDir: "/var/task", Cmd: [req.staged.handler], Env: withEnv(config.config?.Env, IMAGE_ENV) };
      config.rootfs = { type: "layers", diff_ids: [...(base.config.rootfs?.diff_ids ?? []), ...appLayers.map((l) => l.diffId)] };
      config.history = [...(base.config.history ?? []), ...appLayers.map((l) => ({ created, created_by: `imgfn build: ${l.kind}`, comment: l.description }))];
      if (config.rootfs.diff_ids.length !== baseLayers.length + appLayers.length) {
        throw new UserError(`base image ${req.baseImage}: its config lists ${base.config.rootfs?.diff_ids?.length ?? 0} layers but its manifest ${baseLayers.length}`);
      }
      const configBytes = Buffer.from(JSON.stringify(config));
      const configDigest = sha256(configBytes);

      const layerDescriptors = [
        ...baseLayers.map((l) => ({ mediaType: ociLayerType(l.mediaType, req.baseImage), digest: l.digest, size: l.size })),
        ...appLayers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      ];
      const manifestJson = {
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: { mediaType: MT.ociConfig, digest: configDigest, size: configBytes.length },
        layers: layerDescriptors,
        annotations: {
          "org.opencontainers.image.base.name": formatReference({ ...baseRef, digest: undefined }),
          "org.opencontainers.image.base.digest": base.manifest.digest,
        },
      };
      const manifestBytes = Buffer.from(JSON.stringify(manifestJson));
      const digest = sha256(manifestBytes);
      const layers: LayerInfo[] = [
        ...baseLayers.map((l, i) => ({ digest: l.digest, size: l.size, kind: "base" as const, description: `base layer ${i + 1} of ${baseLayers.length}` })),
        ...appLayers.map((l) => ({ digest: l.digest, size: l.size, kind: l.kind, description: l.description, uncompressedSize: l.uncompressedSize })),
      ];
      const result: BuildResult = { digest, layers, uploadedBytes: 0, baseDigest: base.manifest.digest, baseImage: base.pinned, mediaType: MT.ociManifest, configDigest };

      if (req.output) {
        progress(`writing the OCI layout ${req.output}`);
        for (const l of baseLayers) await this.ensureLocal(base, l.digest, progress);
        await writeOciLayout(req.output, {
          manifest: manifestBytes,
          digest,
          mediaType: MT.ociManifest,
          refName: req.tag ?? "latest",
          platform: { os: "linux", architecture: config.architecture },
          blobs: [...baseLayers.map((l) => ({ digest: l.digest, path: this.store.path(l.digest) })), ...appLayers.map((l) => ({ digest: l.digest, path: l.path })), { digest: configDigest, bytes: configBytes }],
        });
        result.output = req.output;
      }

      if (target && client) {
        const repo = target.repository;
        const before = client.uploadedBytes;
        for (const [i, l] of baseLayers.entries()) {
          if (await client.hasBlob(repo, l.digest)) continue;
          if (sameRegistry && base.ref.repository !== repo && (await client.mountBlob(repo, l.digest, base.ref.repository))) continue;
          await this.ensureLocal(base, l.digest, progress);
          progress(`uploading base layer ${i + 1}/${baseLayers.length}`);
          await client.uploadBlob(repo, l.digest, { path: this.store.path(l.digest), size: l.size }, (s, t) => progress(`uploading base layer ${i + 1}: ${bytes(s)} of ${bytes(t)}`));
          layers[i].uploaded = true;
        }
        for (const [i, l] of appLayers.entries()) {
          if (await client.hasBlob(repo, l.digest)) continue;
          await client.uploadBlob(repo, l.digest, { path: l.path, size: l.size }, (s, t) => progress(`uploading the ${l.kind} layer: ${bytes(s)} of ${bytes(t)}`));
          layers[baseLayers.length + i].uploaded = true;
        }
        if (!(await client.hasBlob(repo, configDigest))) await client.uploadBlob(repo, configDigest, configBytes);
        const ref = req.tag ?? digest;
        if ((await client.headManifest(repo, ref)) !== digest) await client.putManifest(repo, ref, manifestBytes, MT.ociManifest);
        result.uploadedBytes = client.uploadedBytes - before;
        progress("checking the pushed image (preflight)");
        const uncompressed = appLayers.reduce((n, l) => n + l.uncompressedSize, 0) + baseLayers.reduce((n, l) => n + l.size, 0);
        await preflight(client, repo, digest, req.architecture, { uncompressedSize: uncompressed });
        result.imageUri = `${target.registry}/${repo}@${digest}`;
      }
      return result;
    } finally {
      await baseClient.close();
      if (client && client !== baseClient) await client.close();
    }
  }

  /** Copies a base layer into the local blob store (once; later builds reuse it). */
  private async ensureLocal(base: BaseImage, digest: string, progress: (m: string) => void): Promise<void> {
    if (await this.store.has(digest)) return;
    progress(`downloading base layer ${digest.slice(7, 19)}`);
    await base.client.downloadBlob(base.ref.repository, digest, this.store.path(digest));
  }
}

/** The base image's linux/<arch> manifest (picked from an index) and its config. */
export async function resolveBase(client: RegistryClient, ref: ImageReference, architecture: Architecture): Promise<BaseImage> {
  const name = formatReference(ref);
  const want = ociArch(architecture);
  let manifest = await client.getManifest(ref.repository, ref.digest ?? ref.tag!);
  if (manifest.mediaType === MT.ociIndex || manifest.mediaType === MT.dockerList || Array.isArray(manifest.json.manifests)) {
    const entries: any[] = manifest.json.manifests ?? [];
    const pick = entries.find((m) => m.platform?.os === "linux" && m.platform?.architecture === want && (want !== "arm64" || !m.platform.variant || m.platform.variant === "v8"));
    if (!pick) {
      const have = entries.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(", ");
      throw new UserError(`base image ${name} has no linux/${want} variant (it has ${have})`, { hint: `choose a base image built for linux/${want}, or change --arch` });
    }
    manifest = await client.getManifest(ref.repository, pick.digest);
  }
  if (manifest.mediaType !== MT.ociManifest && manifest.mediaType !== MT.dockerManifest) {
    throw new UserError(`base image ${name}: unsupported manifest type ${manifest.mediaType}`, { hint: "use an image with a Docker v2 schema 2 or OCI manifest" });
  }
  const config = JSON.parse((await client.getBlob(ref.repository, manifest.json.config.digest)).toString("utf8"));
  if (config.os !== "linux" || config.architecture !== want) {
    throw new UserError(`base image ${name} is ${config.os}/${config.architecture}, not linux/${want}`, { hint: `choose a base image built for linux/${want}` });
  }
  return { ref, pinned: `${ref.registry}/${ref.repository}@${manifest.digest}`, manifest, config, client };
}

function ociLayerType(mediaType: string, image: string): string {
  if (mediaType === MT.dockerLayerGzip || mediaType === MT.ociLayerGzip) return MT.ociLayerGzip;
  if (mediaType === MT.ociLayerTar) return MT.ociLayerTar;
  throw new UserError(`base image ${image} has a layer of type ${mediaType}, which Lambda does not accept`, { hint: "use a base image with gzip layers (the AWS Lambda base images have them)" });
}

function bytes(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(0)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Set in the image (as the Dockerfile's ENV does): stacks in the logs name handler/*.ts lines. */
export const IMAGE_ENV = {
  NODE_OPTIONS: "--enable-source-maps",
  // see functionEnvironment (config.ts): the image carries it too, for a function deployed without imgfn
  ORT_DISABLE_TELEMETRY: "1",
};

/** The base's environment with `vars` set (replacing a variable of the same name). */
export function withEnv(base: string[] | undefined, vars: Record<string, string>): string[] {
  const kept = (base ?? []).filter((e) => !(e.split("=")[0] in vars));
  return [...kept, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)];
}
