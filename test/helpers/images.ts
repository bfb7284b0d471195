/** Test images made with sharp from the committed samples, plus deliberately bad inputs. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import sharp from "sharp";

export const SAMPLES = join(import.meta.dirname, "..", "..", "samples");
export const catJpeg = () => readFileSync(join(SAMPLES, "cat.jpg"));
export const espressoJpeg = () => readFileSync(join(SAMPLES, "espresso.jpg"));

/** ImageNet classes 281–287 are domestic and wild cats (tabby … lynx). */
export const CAT_CLASSES = new Set([281, 282, 283, 284, 285, 286, 287]);

export const catGreyscalePng = () => sharp(catJpeg()).greyscale().png().toBuffer();
export const catRgbaPng = () => sharp(catJpeg()).ensureAlpha(0.6).png().toBuffer();
export const cat16BitPng = () => sharp(catJpeg()).toColourspace("rgb16").png().toBuffer();
/** Pixels stored rotated 90° with EXIF orientation 6 saying "rotate back when displaying". */
export const catExifRotatedJpeg = async () =>
  sharp(await sharp(catJpeg()).rotate(-90).toBuffer())
    .withMetadata({ orientation: 6 })
    .jpeg()
    .toBuffer();
export const catWebp = () => sharp(catJpeg()).webp().toBuffer();

export const truncatedJpeg = () => {
  const full = catJpeg();
  return full.subarray(0, Math.floor(full.length / 2));
};

/**
 * A real decompression bomb: a valid 20000×20000 1-bit PNG (400 MP, 1.2 GB once decoded to RGB)
 * that is a few hundred KB on disk.
 */
export function pngBomb(width = 20000, height = 20000): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth 1
  ihdr[9] = 0; // greyscale
  const rowBytes = 1 + Math.ceil(width / 8);
  const raw = Buffer.alloc(rowBytes * height); // filter 0, all black
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/**
 * Extreme aspect ratios, tiny on disk: a photo strip so the centre region is not one flat colour.
 * Each decodes to at most 130,000 pixels, but resized "shorter side = 256" before cropping, a
 * 1×9000 image would be 256×2,304,000 pixels.
 */
export async function extremeAspect(width: number, height: number, format: "png" | "jpeg"): Promise<Buffer> {
  const strip = await sharp(catJpeg()).resize(width, height, { fit: "fill" }).raw().toBuffer();
  const image = sharp(strip, { raw: { width, height, channels: 3 } });
  return format === "png" ? image.png().toBuffer() : image.jpeg().toBuffer();
}
export const EXTREME_ASPECTS: [string, number, number, "png" | "jpeg"][] = [
  ["1×9000 PNG", 1, 9000, "png"],
  ["9000×1 PNG", 9000, 1, "png"],
  ["40000×2 JPEG", 40000, 2, "jpeg"],
  ["2×65000 JPEG", 2, 65000, "jpeg"],
];

/** A JPEG whose header declares `width`×`height` (SOF rewritten) while its scan data is 64×64. */
export async function lyingJpeg(width = 7000, height = 7000): Promise<Buffer> {
  const b = Buffer.from(await sharp(catJpeg()).resize(64, 64).jpeg().toBuffer());
  for (let i = 2; i + 9 < b.length; i += 2 + b.readUInt16BE(i + 2)) {
    const marker = b[i + 1];
    if (marker >= 0xc0 && marker <= 0xc2) {
      b.writeUInt16BE(height, i + 5);
      b.writeUInt16BE(width, i + 7);
      return b;
    }
  }
  throw new Error("no SOF marker in the encoded JPEG");
}

/** The first `fraction` of an encoded image, as an interrupted upload leaves it. */
export const cutOff = (bytes: Buffer, fraction: number) => bytes.subarray(0, Math.floor(bytes.length * fraction));
export const truncatedPng = async () => cutOff(await sharp(catJpeg()).png().toBuffer(), 0.9);
export const truncatedWebp = async () => cutOff(await sharp(catJpeg()).webp().toBuffer(), 0.7);
/** Cut off in its last rows, below the part of the image the centre crop reads. */
export const truncatedJpegTail = async () => cutOff(await sharp(catJpeg()).rotate(90).jpeg().toBuffer(), 0.98);

/** The cat with an alpha channel that varies over every value 0–255 (a diagonal ramp). */
export async function catAlphaRampPng(): Promise<Buffer> {
  const { data, info } = await sharp(catJpeg()).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const rgba = Buffer.alloc(info.width * info.height * 4);
  for (let i = 0; i < info.width * info.height; i++) {
    data.copy(rgba, i * 4, i * 3, i * 3 + 3);
    rgba[i * 4 + 3] = ((i % info.width) + Math.floor(i / info.width)) % 256;
  }
  return sharp(rgba, { raw: { width: info.width, height: info.height, channels: 4 } }).png().toBuffer();
}
