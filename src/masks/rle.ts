import type { Mask } from './mask.js';

/** COCO run-length encoding, uncompressed: column-major runs that start with zeros. */
export interface Rle {
  size: [number, number]; // [height, width]
  counts: number[];
}

export function encodeRle(m: Mask): Rle {
  const { width: w, height: h, data } = m;
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = data[y * w + x]!;
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run++;
    }
  }
  counts.push(run);
  return { size: [h, w], counts };
}

export function decodeRle(rle: Rle): Mask {
  const [h, w] = rle.size;
  const data = new Uint8Array(h * w);
  let pos = 0;
  let value = 0;
  for (const c of rle.counts) {
    if (value) {
      for (let k = pos; k < pos + c; k++) data[(k % h) * w + Math.floor(k / h)] = 1;
    }
    pos += c;
    value ^= 1;
  }
  if (pos !== h * w) throw new RangeError(`RLE counts sum to ${pos}, expected ${h * w} for size [${h}, ${w}]`);
  return { data, width: w, height: h };
}
