/** Writes an image as an OCI image layout directory (oci-layout, index.json, blobs/sha256/…). */
import { constants } from "node:fs";
import { copyFile, link, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MT } from "./preflight.js";

export interface LayoutBlob {
  digest: string;
  /** A file holding the blob, or its bytes. */
  path?: string;
  bytes?: Buffer;
}

export async function writeOciLayout(dir: string, image: { manifest: Buffer; digest: string; mediaType: string; blobs: LayoutBlob[]; refName?: string; platform?: { os: string; architecture: string } }): Promise<void> {
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const put = async (b: LayoutBlob) => {
    const dest = join(dir, "blobs", ...b.digest.split(":"));
    if (await stat(dest).then(() => true, () => false)) return;
    if (b.bytes) await writeFile(dest, b.bytes);
    else await link(b.path!, dest).catch(() => copyFile(b.path!, dest, constants.COPYFILE_FICLONE));
  };
  for (const b of [...image.blobs, { digest: image.digest, bytes: image.manifest }]) await put(b);
  // Keep other images already in the layout; replace one with the same ref name.
  const indexPath = join(dir, "index.json");
  const index = await readFile(indexPath, "utf8").then(JSON.parse, () => ({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] }));
  const ref = image.refName ?? "latest";
  index.manifests = (index.manifests as any[]).filter((m) => m.annotations?.["org.opencontainers.image.ref.name"] !== ref && m.digest !== image.digest);
  index.manifests.push({
    mediaType: image.mediaType,
    digest: image.digest,
    size: image.manifest.length,
    ...(image.platform ? { platform: image.platform } : {}),
    annotations: { "org.opencontainers.image.ref.name": ref },
  });
  await rm(indexPath, { force: true });
  await writeFile(indexPath, JSON.stringify(index, null, 2) + "\n");
}
