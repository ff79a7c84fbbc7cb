import { materialise, planesOf, type Chw, type Planes } from './image.js';

/**
 * [C,H,W] -> [C,h,w]: area average when shrinking, bilinear (half-pixel centres) when enlarging.
 * Twin of `preprocess.resize` in the model factory (adaptive_avg_pool2d / interpolate bilinear,
 * align_corners=False), so pipeline embeddings match the factory's.
 */
export function resize(src: Chw, h: number, w: number): Chw {
  if (h === src.height && w === src.width) return src;
  return resizePlanes(planesOf(src), h, w);
}

/** [x1, y1, x2, y2] in source pixels, x2/y2 exclusive (a mask's Box; tensor/ sits below masks/). */
export type NonZeroBox = readonly [number, number, number, number];

/**
 * `resize` of planes read on demand (a normalised RGB frame, a byte mask): the same numbers, no
 * float copy of the source. `nonZero`, when given, is a box outside which every source value is
 * 0 (a mask's tight box): a shrink then reads only the source inside the cells that overlap it,
 * with the same result, as the rest adds exact zeros.
 */
export function resizePlanes(src: Planes, h: number, w: number, nonZero?: NonZeroBox): Chw {
  if (h === src.height && w === src.width) return materialise(src);
  if (h <= src.height && w <= src.width) return areaAverage(src, h, w, nonZero);
  return bilinear(src, h, w);
}

function areaAverage(src: Planes, h: number, w: number, nonZero: NonZeroBox = [0, 0, src.width, src.height]): Chw {
  const { channels: c, height: H, width: W } = src;
  const out = new Float32Array(c * h * w);
  const x0s = Int32Array.from({ length: w }, (_, ox) => Math.floor((ox * W) / w));
  const x1s = Int32Array.from({ length: w }, (_, ox) => Math.ceil(((ox + 1) * W) / w));
  const scratch = new Float32Array(W);
  const sums = new Float64Array(w);
  // Output cells that overlap the non-zero box; the others stay 0.
  const [bx1, by1, bx2, by2] = nonZero;
  let oxs = 0;
  while (oxs < w && x1s[oxs]! <= bx1) oxs++;
  let oxe = w;
  while (oxe > oxs && x0s[oxe - 1]! >= bx2) oxe--;
  if (oxs >= oxe) return { data: out, channels: c, height: h, width: w };
  const rx0 = x0s[oxs]!;
  const rx1 = x1s[oxe - 1]!;
  for (let oy = 0; oy < h; oy++) {
    const y0 = Math.floor((oy * H) / h);
    const y1 = Math.ceil(((oy + 1) * H) / h);
    if (y1 <= by1 || y0 >= by2) continue;
    for (let ch = 0; ch < c; ch++) {
      sums.fill(0);
      // Each cell's sum runs over its rows, then within a row over its columns: the order (and
      // so the float rounding) of a cell-by-cell loop, with every source row read once per cell row.
      for (let y = Math.max(y0, by1), yEnd = Math.min(y1, by2); y < yEnd; y++) {
        const row = src.row(ch, y, scratch, rx0, rx1);
        for (let ox = oxs; ox < oxe; ox++) {
          let sum = sums[ox]!;
          for (let x = x0s[ox]!, end = x1s[ox]!; x < end; x++) sum += row[x]!;
          sums[ox] = sum;
        }
      }
      const base = ch * h * w + oy * w;
      for (let ox = oxs; ox < oxe; ox++) out[base + ox] = sums[ox]! / ((y1 - y0) * (x1s[ox]! - x0s[ox]!));
    }
  }
  return { data: out, channels: c, height: h, width: w };
}

/** One axis of the bilinear enlargement (half-pixel centres): output pixel o mixes i0[o] and i1[o] with weight f[o]. */
export function bilinearAxis(outSize: number, inSize: number): { i0: Int32Array; i1: Int32Array; f: Float32Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const f = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = Math.max((o + 0.5) * scale - 0.5, 0);
    const lo = Math.min(Math.floor(src), inSize - 1);
    i0[o] = lo;
    i1[o] = Math.min(lo + 1, inSize - 1);
    f[o] = src - lo;
  }
  return { i0, i1, f };
}

function bilinear(src: Planes, h: number, w: number): Chw {
  const { channels: c, height: H, width: W } = src;
  const ys = bilinearAxis(h, H);
  const xs = bilinearAxis(w, W);
  const out = new Float32Array(c * h * w);
  const scratch0 = new Float32Array(W);
  const scratch1 = new Float32Array(W);
  for (let ch = 0; ch < c; ch++) {
    for (let oy = 0; oy < h; oy++) {
      const fy = ys.f[oy]!;
      const r0 = src.row(ch, ys.i0[oy]!, scratch0);
      const r1 = src.row(ch, ys.i1[oy]!, scratch1);
      for (let ox = 0; ox < w; ox++) {
        const fx = xs.f[ox]!;
        const a = r0[xs.i0[ox]!]! * (1 - fx) + r0[xs.i1[ox]!]! * fx;
        const b = r1[xs.i0[ox]!]! * (1 - fx) + r1[xs.i1[ox]!]! * fx;
        out[ch * h * w + oy * w + ox] = a * (1 - fy) + b * fy;
      }
    }
  }
  return { data: out, channels: c, height: h, width: w };
}
