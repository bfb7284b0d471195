/**
 * Small thumbnails of the source images, made with sharp: for the report (embedded as data URIs)
 * and for the live page (served by its own server). Sources too large or not images get none.
 */
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";

export interface ThumbnailOptions {
  /** Longest side in pixels. */
  size?: number;
  /** Sources larger than this are not downloaded. */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface Thumbnail {
  bytes: Buffer;
  contentType: "image/webp";
  width: number;
  height: number;
}

export const THUMBNAIL_SIZE = 160;

/** A WebP thumbnail of image bytes, or the reason there is none. */
export async function thumbnailOf(bytes: Uint8Array, size = THUMBNAIL_SIZE): Promise<Thumbnail | { problem: string }> {
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: 50_000_000, failOn: "error" })
      .rotate() // EXIF orientation, as a viewer shows the photo
      .resize(size, size, { fit: "inside", withoutEnlargement: true })
      .webp({ quality: 60, effort: 2 })
      .toBuffer({ resolveWithObject: true });
    return { bytes: data, contentType: "image/webp", width: info.width, height: info.height };
  } catch (err) {
    return { problem: `not a readable image (${(err as Error).message})` };
  }
}

/** The thumbnail of an object in S3, or why there is none (missing, too large, not an image). */
export async function thumbnailFromS3(s3: S3Client, bucket: string, key: string, opts: ThumbnailOptions = {}): Promise<Thumbnail | { problem: string }> {
  const maxBytes = opts.maxBytes ?? 20 * 1024 * 1024;
  let body: Uint8Array;
  try {
    opts.signal?.throwIfAborted(); // checked here, not handed to the SDK (one listener per request would pile up)
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if ((res.ContentLength ?? 0) > maxBytes) {
      (res.Body as any)?.destroy?.();
      return { problem: `source is ${res.ContentLength} bytes, over the ${maxBytes}-byte preview limit` };
    }
    body = await res.Body!.transformToByteArray();
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    const name = (err as Error)?.name;
    if (name === "NoSuchKey" || name === "NotFound") return { problem: `source s3://${bucket}/${key} no longer exists` };
    return { problem: `source could not be read (${name}: ${(err as Error).message})` };
  }
  return thumbnailOf(body, opts.size);
}

export const isThumbnail = (t: Thumbnail | { problem: string }): t is Thumbnail => "bytes" in t;

export const dataUri = (t: Thumbnail) => `data:${t.contentType};base64,${t.bytes.toString("base64")}`;
