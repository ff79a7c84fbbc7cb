import test from 'ava';
import { resize } from '../../src/tensor/resize.js';
import { normalise } from '../../src/tensor/image.js';
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
