/**
 * The manifest's "resize the shorter side, then centre-crop" computed for the crop only, in source
 * coordinates, with the arithmetic of Pillow's resampler (libImaging/Resample.c): the same
 * antialiased filters, the same pixel centres, the same 22-bit fixed-point coefficients, the
 * horizontal pass first, rounded to 8 bits between the passes. So the crop is bit-identical to
 * torchvision's `Resize(resize)` + `CenterCrop(crop)` on the same decoded pixels, while the work
 * and the memory are those of the crop: a 1×9000 image no longer becomes 256×2,304,000 pixels.
 */

export type ResizeFilter = "bilinear" | "bicubic" | "lanczos" | "box" | "hamming";
export const RESIZE_FILTERS: ResizeFilter[] = ["bilinear", "bicubic", "lanczos", "box", "hamming"];

interface Filter {
  support: number;
  weight: (x: number) => number;
}

const sinc = (x: number) => (x === 0 ? 1 : Math.sin(x * Math.PI) / (x * Math.PI));
const FILTERS: Record<ResizeFilter, Filter> = {
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, weight: (x) => ((x = Math.abs(x)) < 1 ? 1 - x : 0) },
  hamming: {
    support: 1,
    weight: (x) => {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      // Pillow writes the constants as C floats
      return (Math.sin(x) / x) * (Math.fround(0.54) + Math.fround(0.46) * Math.cos(x));
    },
  },
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

const PRECISION_BITS = 22; // 32 - 8 - 2, as Pillow
const HALF = 1 << (PRECISION_BITS - 1);

/** Where the crop lands: the resized frame (shorter side = resize) and the crop's offset in it. */
export interface CropPlan {
  /** Source (upright) size. */
  width: number;
  height: number;
  /** Size after "shorter side = resize", as torchvision computes it (the longer side truncated). */
  resizedWidth: number;
  resizedHeight: number;
  /** Top-left of the centre crop in the resized frame (torchvision: round half to even). */
  left: number;
  top: number;
  crop: number;
}

const roundHalfEven = (v: number) => {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

export function planCrop(width: number, height: number, resize: number, crop: number): CropPlan {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const resizedLong = Math.floor((resize * long) / short);
  const [resizedWidth, resizedHeight] = width <= height ? [resize, resizedLong] : [resizedLong, resize];
  return {
    width,
    height,
    resizedWidth,
    resizedHeight,
    left: roundHalfEven((resizedWidth - crop) / 2),
    top: roundHalfEven((resizedHeight - crop) / 2),
    crop,
  };
}

/** Per output pixel of one axis: the first source index, how many taps, and their weights. */
interface AxisCoefficients {
  starts: Int32Array;
  counts: Int32Array;
  weights: Int32Array;
  taps: number;
  /** Source indices [first, end) that the crop reads on this axis. */
  first: number;
  end: number;
}

/**
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc for outputs [offset, offset+count) of a
 * resize from inSize to outSize (only those: the crop's).
 */
function axisCoefficients(inSize: number, outSize: number, offset: number, count: number, filter: Filter): AxisCoefficients {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const taps = Math.ceil(support) * 2 + 1;
  const starts = new Int32Array(count);
  const counts = new Int32Array(count);
  const weights = new Int32Array(count * taps);
  const w = new Float64Array(taps);
  const ss = 1 / filterscale;
  let first = inSize;
  let end = 0;
  for (let j = 0; j < count; j++) {
    const center = (offset + j + 0.5) * scale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const n = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let total = 0;
    for (let x = 0; x < n; x++) total += w[x] = filter.weight((x + xmin - center + 0.5) * ss);
    for (let x = 0; x < n; x++) {
      const k = total !== 0 ? w[x] / total : w[x];
      weights[j * taps + x] = k < 0 ? Math.trunc(-0.5 + k * (1 << PRECISION_BITS)) : Math.trunc(0.5 + k * (1 << PRECISION_BITS));
    }
    starts[j] = xmin;
    counts[j] = n;
    first = Math.min(first, xmin);
    end = Math.max(end, xmin + n);
  }
  return { starts, counts, weights, taps, first, end };
}

const clip8 = (v: number) => {
  const r = v >> PRECISION_BITS;
  return r < 0 ? 0 : r > 255 ? 255 : r;
};

/** The source rectangle the crop reads (in the coordinates of an image of `width`×`height`). */
export interface SourceRegion {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface CropResampler {
  /** What to decode: only these source pixels are read. */
  region: SourceRegion;
  /** `rgb`: the region's pixels, HWC uint8 with 3 channels. Returns the crop, HWC uint8. */
  run(rgb: Uint8Array): Uint8Array;
}

/**
 * Prepares the crop of `plan` from a decoded image of `width`×`height` pixels: the source itself,
 * or a shrunk copy of it (shrink-on-load), whose pixels then stand for the same upright frame.
 */
export function cropResampler(plan: CropPlan, width: number, height: number, filterName: ResizeFilter): CropResampler {
  const filter = FILTERS[filterName];
  const h = axisCoefficients(width, plan.resizedWidth, plan.left, plan.crop, filter);
  const v = axisCoefficients(height, plan.resizedHeight, plan.top, plan.crop, filter);
  const region = { left: h.first, top: v.first, width: h.end - h.first, height: v.end - v.first };
  return {
    region,
    run(rgb) {
      const crop = plan.crop;
      const rows = region.height;
      const stride = region.width * 3;
      // horizontal pass over the region's rows, rounded to 8 bits as Pillow's temporary image
      // Uint8ClampedArray stores clamp to 0..255 exactly as Pillow's clip8 does after the shift
      const temp = new Uint8ClampedArray(rows * crop * 3);
      const { weights, starts, counts, taps } = h;
      const left3 = region.left * 3;
      for (let y = 0; y < rows; y++) {
        const rowStart = y * stride - left3;
        let o = y * crop * 3;
        for (let j = 0, kBase = 0; j < crop; j++, kBase += taps) {
          const end = kBase + counts[j];
          let s = rowStart + starts[j] * 3;
          let r = HALF;
          let g = HALF;
          let b = HALF;
          // int32 arithmetic throughout (Pillow's sums fit: 255 × 2^22 × 1.x < 2^31)
          for (let ki = kBase; ki < end; ki++, s += 3) {
            const k = weights[ki];
            r = (r + Math.imul(rgb[s], k)) | 0;
            g = (g + Math.imul(rgb[s + 1], k)) | 0;
            b = (b + Math.imul(rgb[s + 2], k)) | 0;
          }
          temp[o++] = r >> PRECISION_BITS;
          temp[o++] = g >> PRECISION_BITS;
          temp[o++] = b >> PRECISION_BITS;
        }
      }
      // vertical pass
      const out = new Uint8ClampedArray(crop * crop * 3);
      const rowBytes = crop * 3;
      const acc = new Int32Array(rowBytes);
      for (let i = 0; i < crop; i++) {
        acc.fill(HALF);
        const n = v.counts[i];
        const kBase = i * v.taps;
        const y0 = v.starts[i] - region.top;
        for (let y = 0; y < n; y++) {
          const k = v.weights[kBase + y];
          const src = (y0 + y) * rowBytes;
          for (let c = 0; c < rowBytes; c++) acc[c] = (acc[c] + Math.imul(temp[src + c], k)) | 0;
        }
        const o = i * rowBytes;
        for (let c = 0; c < rowBytes; c++) out[o + c] = acc[c] >> PRECISION_BITS;
      }
      return new Uint8Array(out.buffer);
    },
  };
}

/**
 * The same arithmetic the long way: resize the whole image, then crop. Only for tests and
 * measurements (it allocates the whole resized image); cropResampler must equal it.
 */
export function resizeThenCrop(rgb: Uint8Array, width: number, height: number, plan: CropPlan, filterName: ResizeFilter): Uint8Array {
  // Two one-axis runs over the whole frame, as Pillow's ImagingResampleInner does.
  const filter = FILTERS[filterName];
  const h = axisCoefficients(width, plan.resizedWidth, 0, plan.resizedWidth, filter);
  const v = axisCoefficients(height, plan.resizedHeight, 0, plan.resizedHeight, filter);
  const W = plan.resizedWidth;
  const temp = new Uint8Array(height * W * 3);
  for (let y = 0; y < height; y++) {
    for (let j = 0; j < W; j++) {
      for (let c = 0; c < 3; c++) {
        let s = HALF;
        for (let x = 0; x < h.counts[j]; x++) s += rgb[(y * width + h.starts[j] + x) * 3 + c] * h.weights[j * h.taps + x];
        temp[(y * W + j) * 3 + c] = clip8(s);
      }
    }
  }
  const out = new Uint8Array(plan.crop * plan.crop * 3);
  for (let i = 0; i < plan.crop; i++) {
    const yy = plan.top + i;
    for (let j = 0; j < plan.crop; j++) {
      const xx = plan.left + j;
      for (let c = 0; c < 3; c++) {
        let s = HALF;
        for (let y = 0; y < v.counts[yy]; y++) s += temp[((v.starts[yy] + y) * W + xx) * 3 + c] * v.weights[yy * v.taps + y];
        out[(i * plan.crop + j) * 3 + c] = clip8(s);
      }
    }
  }
  return out;
}
