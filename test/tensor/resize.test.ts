import test from 'ava';
import { resize, resizePlanes } from '../../src/tensor/resize.js';
import { maskPlanes, normalise, normalised, planesOf } from '../../src/tensor/image.js';
import { assertClose } from '../helpers/close.js';

// Float32 outputs of sums and interpolations: compared within a tolerance, not bit for bit.
const TOL = 1e-6;

const chw = (h: number, w: number, values: number[]) => ({ data: Float32Array.from(values), channels: 1, height: h, width: w });

test("shrinking averages each output cell's area (adaptive average pooling)", (t) => {
  const out = resize(chw(2, 4, [1, 3, 5, 7, 9, 11, 13, 15]), 1, 2); // [C,H,W] [1,2,4] -> [1,1,2]
  assertClose(t, out.data, [(1 + 3 + 9 + 11) / 4, (5 + 7 + 13 + 15) / 4], TOL, 'pooled');
});

test('shrinking by a non-integer factor uses overlapping windows like adaptive_avg_pool2d', (t) => {
  // 3 -> 2: windows [0,2) and [1,3).
  const out = resize(chw(1, 3, [0, 3, 6]), 1, 2); // [C,H,W] [1,1,3] -> [1,1,2]
  assertClose(t, out.data, [1.5, 4.5], TOL, 'pooled');
});

test('enlarging is bilinear with half-pixel centres (align_corners = false)', (t) => {
  const out = resize(chw(1, 2, [0, 4]), 1, 4); // [C,H,W] [1,1,2] -> [1,1,4]
  // Source positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the last pixel).
  assertClose(t, out.data, [0, 1, 3, 4], TOL, 'interpolated');
});

test('same size is returned as is', (t) => {
  const src = chw(2, 2, [1, 2, 3, 4]);
  t.is(resize(src, 2, 2), src);
});

test('normalise: (x/255 - mean) / std per channel, planar output', (t) => {
  const rgb = { data: Uint8Array.from([255, 0, 51, 0, 255, 102]), width: 2, height: 1 };
  const out = normalise(rgb, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]); // [H,W,C] [1,2,3] -> [C,H,W] [3,1,2]
  assertClose(t, out.data, [1, -1, -1, 1, -0.6, -0.2], TOL, 'normalised');
});

test("resizing planes read on demand (RGB through the normalisation tables, byte masks) gives the stored version's numbers bit for bit", (t) => {
  let seed = 3;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const [W, H] = [53, 37];
  const rgb = { data: Uint8Array.from({ length: W * H * 3 }, () => Math.floor(rand() * 256)), width: W, height: H };
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  const stored = normalise(rgb, mean, std); // [3,H,W]
  t.deepEqual(resizePlanes(normalised(rgb, mean, std), H, W).data, stored.data, 'same size: stored as is');
  for (const [h, w] of [
    [16, 16], // shrink: area average over overlapping windows
    [37, 20], // one axis only
    [128, 128], // enlarge: bilinear
    [20, 90], // shrink one axis, enlarge the other: bilinear
  ] as const) {
    t.deepEqual(resizePlanes(normalised(rgb, mean, std), h, w).data, resize(stored, h, w).data, `${h}x${w}`);
    t.deepEqual(resizePlanes(planesOf(stored), h, w).data, resize(stored, h, w).data, `${h}x${w} from stored planes`);
  }
  const mask = { data: Uint8Array.from({ length: W * H }, () => (rand() < 0.4 ? 1 : 0)), width: W, height: H };
  const asFloat = { data: Float32Array.from(mask.data), channels: 1, height: H, width: W };
  for (const g of [7, 64]) t.deepEqual(resizePlanes(maskPlanes(mask), g, g).data, resize(asFloat, g, g).data, `mask ${g}`);
});

/** resize as plain cell-by-cell loops over a stored [C,H,W] (how it was written before it read rows). */
function previousResize(src: { data: Float32Array; channels: number; height: number; width: number }, h: number, w: number): Float32Array {
  const { channels: c, height: H, width: W, data } = src;
  const out = new Float32Array(c * h * w);
  const axis = (o: number, size: number, n: number) => {
    const s = Math.max((o + 0.5) * (n / size) - 0.5, 0);
    const lo = Math.min(Math.floor(s), n - 1);
    return [lo, Math.min(lo + 1, n - 1), Math.fround(s - lo)] as const;
  };
  for (let ch = 0; ch < c; ch++) {
    for (let oy = 0; oy < h; oy++) {
      for (let ox = 0; ox < w; ox++) {
        let v: number;
        if (h <= H && w <= W) {
          const [y0, y1, x0, x1] = [
            Math.floor((oy * H) / h),
            Math.ceil(((oy + 1) * H) / h),
            Math.floor((ox * W) / w),
            Math.ceil(((ox + 1) * W) / w),
          ];
          let sum = 0;
          for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += data[ch * H * W + y * W + x]!;
          v = sum / ((y1 - y0) * (x1 - x0));
        } else {
          const [ya, yb, fy] = axis(oy, h, H);
          const [xa, xb, fx] = axis(ox, w, W);
          const at = (y: number, x: number) => data[ch * H * W + y * W + x]!;
          v = (at(ya, xa) * (1 - fx) + at(ya, xb) * fx) * (1 - fy) + (at(yb, xa) * (1 - fx) + at(yb, xb) * fx) * fy;
        }
        out[ch * h * w + oy * w + ox] = v;
      }
    }
  }
  return out;
}

test('resize is bit-identical to plain cell-by-cell loops (area average: the same summation order)', (t) => {
  let seed = 5;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const src = { data: Float32Array.from({ length: 2 * 31 * 45 }, () => rand() * 10 - 5), channels: 2, height: 31, width: 45 };
  for (const [h, w] of [
    [7, 9],
    [31, 12],
    [16, 45],
    [62, 90],
    [20, 100],
  ] as const) {
    t.deepEqual(resize(src, h, w).data, previousResize(src, h, w), `${h}x${w}`);
  }
});

test("shrinking a mask within its box reads only the cells over the box and gives the whole frame's numbers bit for bit", (t) => {
  let seed = 11;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const [W, H] = [97, 61];
  for (let trial = 0; trial < 40; trial++) {
    // A blob inside a random box (some touching the frame's edges), holes included.
    const x1 = Math.floor(rand() * W);
    const y1 = Math.floor(rand() * H);
    const x2 = Math.min(W, x1 + 1 + Math.floor(rand() * W));
    const y2 = Math.min(H, y1 + 1 + Math.floor(rand() * H));
    const data = new Uint8Array(W * H);
    for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) data[y * W + x] = rand() < 0.7 ? 1 : 0;
    data[y1 * W + x1] = 1;
    data[(y2 - 1) * W + (x2 - 1)] = 1; // so that [x1, y1, x2, y2] is the tight box
    const mask = { data, width: W, height: H };
    let rowsRead = 0;
    const counted = {
      ...maskPlanes(mask),
      row: (c: number, y: number, s: Float32Array, a?: number, b?: number) => {
        rowsRead++;
        return maskPlanes(mask).row(c, y, s, a, b);
      },
    };
    for (const [h, w] of [
      [13, 13],
      [8, 30],
      [61, 40],
      [1, 1],
    ] as const) {
      rowsRead = 0;
      const within = resizePlanes(counted, h, w, [x1, y1, x2, y2]).data;
      t.deepEqual(within, resizePlanes(maskPlanes(mask), h, w).data, `box ${[x1, y1, x2, y2]} -> ${h}x${w}`);
      // Shrinking windows overlap: a source row may belong to two output rows, no more.
      t.true(rowsRead <= 2 * (y2 - y1), `${rowsRead} rows read for a box ${y2 - y1} rows tall`);
    }
  }
});
