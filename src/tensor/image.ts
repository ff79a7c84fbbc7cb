/** A planar float image: [C,H,W] in one Float32Array (the layout ONNX vision models take). */
export interface Chw {
  readonly data: Float32Array;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** Decoded pixels: interleaved RGB, 8 bits per channel. */
export interface Rgb {
  readonly data: Uint8Array; // [H,W,3]
  readonly width: number;
  readonly height: number;
}

/**
 * A [C,H,W] image to read row by row, stored or computed on read: `row(c, y, scratch, x0, x1)`
 * gives channel c's row y, indexed by x, either a view of stored data or `scratch` (W long) with
 * at least [x0, x1) filled (default: the whole row). Resizes and
 * crops read through it, so a frame stays 3 bytes per pixel (its RGB) instead of a 12-byte float
 * copy per model (a 40 MP frame: 120 MB instead of 480 MB for each of SAM2 and CLIP).
 */
export interface Planes {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  row(c: number, y: number, scratch: Float32Array, x0?: number, x1?: number): Float32Array;
}

/** A stored [C,H,W] image as planes (rows are views, nothing copied). */
export function planesOf(chw: Chw): Planes {
  const { data, height: h, width: w } = chw;
  return { channels: chw.channels, height: h, width: w, row: (c, y) => data.subarray((c * h + y) * w, (c * h + y + 1) * w) };
}

/** A binary mask (1 byte per pixel) as one plane of 0 and 1, without a float copy of the frame. */
export function maskPlanes(mask: { readonly data: Uint8Array; readonly width: number; readonly height: number }): Planes {
  const { data, width: w } = mask;
  return {
    channels: 1,
    height: mask.height,
    width: w,
    row: (_c, y, scratch, x0 = 0, x1 = w) => {
      for (let x = x0, i = y * w + x0; x < x1; x++, i++) scratch[x] = data[i]!;
      return scratch;
    },
  };
}

/**
 * Per channel, the normalised float32 value of each of the 256 byte values: the numbers
 * `normalise` stores, (x / 255 - mean) / std in the factory's float32 arithmetic order.
 */
function normalisationTables(mean: readonly number[], std: readonly number[]): readonly Float32Array[] {
  return [0, 1, 2].map((c) => {
    const m = Math.fround(mean[c] ?? 0);
    const s = Math.fround(std[c] ?? 1);
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = (Math.fround(v / 255) - m) / s;
    return table;
  });
}

/** [H,W,3] uint8 read as [3,H,W] float32, (x/255 - mean) / std per channel, computed row by row (no copy). */
export function normalised(rgb: Rgb, mean: readonly number[], std: readonly number[]): Planes {
  const tables = normalisationTables(mean, std);
  const { data: px, width: w } = rgb;
  return {
    channels: 3,
    height: rgb.height,
    width: w,
    row: (c, y, scratch, x0 = 0, x1 = w) => {
      const table = tables[c]!;
      for (let x = x0, i = (y * w + x0) * 3 + c; x < x1; x++, i += 3) scratch[x] = table[px[i]!]!;
      return scratch;
    },
  };
}

/** [H,W,3] uint8 -> [3,H,W] float32, (x/255 - mean) / std per channel: `normalised`, stored. */
export function normalise(rgb: Rgb, mean: readonly number[], std: readonly number[]): Chw {
  return materialise(normalised(rgb, mean, std));
}

/** Planes stored as a [C,H,W] Float32Array. */
export function materialise(src: Planes): Chw {
  const { channels: c, height: h, width: w } = src;
  const out = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < h; y++) out.set(src.row(ch, y, out.subarray((ch * h + y) * w, (ch * h + y + 1) * w)), (ch * h + y) * w);
  return { data: out, channels: c, height: h, width: w };
}
