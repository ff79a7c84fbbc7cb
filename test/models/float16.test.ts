import test from 'ava';
import { fromFloat16, halfBits, toFloat16 } from '../../src/models/tensor.js';

const isNaNBits = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

test('every half value converts to float32 and back to the same bits', (t) => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const back = toFloat16(fromFloat16(all));
  let bad = 0;
  for (let h = 0; h < 65536; h++) {
    if (isNaNBits(h) ? !isNaNBits(back[h]!) : back[h] !== h) bad++;
  }
  t.is(bad, 0);
});

test('known values: one, max, smallest subnormal, signed zero, infinities', (t) => {
  t.deepEqual(Array.from(fromFloat16(new Uint16Array([0x3c00, 0x7bff, 0x0001, 0x8000, 0xfc00, 0x3555]))), [
    1,
    65504,
    2 ** -24,
    -0,
    -Infinity,
    Math.fround(0.333251953125),
  ]);
  t.is(halfBits(65504), 0x7bff);
  t.is(halfBits(1e6), 0x7c00);
  t.is(halfBits(-1e-9), 0x8000);
  t.true(isNaNBits(halfBits(NaN)));
});

test('rounding is to nearest, ties to even, across normals, subnormals and the overflow edge', (t) => {
  const value = fromFloat16(new Uint16Array(0x7c00).map((_, i) => i)); // every finite positive half
  let bad = 0;
  for (let h = 0; h + 1 < 0x7c00; h++) {
    const lo = value[h]!;
    const hi = value[h + 1]!;
    const mid = (lo + hi) / 2; // 12 significant bits: exact in float32
    const even = (h & 1) === 0 ? h : h + 1;
    const above = mid + (hi - lo) / 4096; // still between mid and hi, exact in float32
    const below = mid - (hi - lo) / 4096;
    if (halfBits(mid) !== even || halfBits(above) !== h + 1 || halfBits(below) !== h) bad++;
    if (halfBits(-mid) !== (even | 0x8000)) bad++;
  }
  t.is(bad, 0);
  t.is(halfBits(2 ** -25), 0); // halfway to the smallest subnormal: ties to even (zero)
  t.is(halfBits(Math.fround(2 ** -25 * 1.0001)), 1);
  t.is(halfBits(65519.99), 0x7bff); // below the midpoint to the next (infinite) step
  t.is(halfBits(65520), 0x7c00); // the tie goes to the even pattern, which is Infinity
});
