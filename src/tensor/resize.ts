import type { Chw } from './image.js';

/**
 * [C,H,W] -> [C,h,w]: area average when shrinking, bilinear (half-pixel centres) when enlarging.
 * Twin of `preprocess.resize` in the model factory (adaptive_avg_pool2d / interpolate bilinear,
 * align_corners=False), so pipeline embeddings match the factory's.
 */
export function resize(src: Chw, h: number, w: number): Chw {
  if (h === src.height && w === src.width) return src;
  if (h <= src.height && w <= src.width) return areaAverage(src, h, w);
  return bilinear(src, h, w);
}

function areaAverage(src: Chw, h: number, w: number): Chw {
  const { channels: c, height: H, width: W, data } = src;
  const out = new Float32Array(c * h * w);
  for (let oy = 0; oy < h; oy++) {
    const y0 = Math.floor((oy * H) / h);
    const y1 = Math.ceil(((oy + 1) * H) / h);
    for (let ox = 0; ox < w; ox++) {
      const x0 = Math.floor((ox * W) / w);
      const x1 = Math.ceil(((ox + 1) * W) / w);
      const n = (y1 - y0) * (x1 - x0);
      for (let ch = 0; ch < c; ch++) {
        let sum = 0;
        const base = ch * H * W;
        for (let y = y0; y < y1; y++) {
          const row = base + y * W;
          for (let x = x0; x < x1; x++) sum += data[row + x]!;
        }
        out[ch * h * w + oy * w + ox] = sum / n;
      }
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

function bilinear(src: Chw, h: number, w: number): Chw {
  const { channels: c, height: H, width: W, data } = src;
  const ys = bilinearAxis(h, H);
  const xs = bilinearAxis(w, W);
  const out = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    const base = ch * H * W;
    for (let oy = 0; oy < h; oy++) {
      const fy = ys.f[oy]!;
      const r0 = base + ys.i0[oy]! * W;
      const r1 = base + ys.i1[oy]! * W;
      for (let ox = 0; ox < w; ox++) {
        const fx = xs.f[ox]!;
        const a = data[r0 + xs.i0[ox]!]! * (1 - fx) + data[r0 + xs.i1[ox]!]! * fx;
        const b = data[r1 + xs.i0[ox]!]! * (1 - fx) + data[r1 + xs.i1[ox]!]! * fx;
        out[ch * h * w + oy * w + ox] = a * (1 - fy) + b * fy;
      }
    }
  }
  return { data: out, channels: c, height: h, width: w };
}
