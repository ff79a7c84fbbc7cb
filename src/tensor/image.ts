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

/** [H,W,3] uint8 -> [3,H,W] float32, (x/255 - mean) / std per channel. */
export function normalise(rgb: Rgb, mean: readonly number[], std: readonly number[]): Chw {
  const { width: w, height: h } = rgb;
  const plane = w * h;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const m = mean[c] ?? 0;
    const s = std[c] ?? 1;
    for (let i = 0; i < plane; i++) {
      // Same float32 arithmetic order as the factory: (x / 255 - mean) / std.
      out[c * plane + i] = (Math.fround(rgb.data[i * 3 + c]! / 255) - Math.fround(m)) / Math.fround(s);
    }
  }
  return { data: out, channels: 3, height: h, width: w };
}
