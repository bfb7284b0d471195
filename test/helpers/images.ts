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
