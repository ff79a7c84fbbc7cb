import test from 'ava';
import { boxMask, maskArea, type Mask } from '../../src/masks/mask.js';
import { promptedCandidate } from '../../src/masks/postprocess.js';

const empty = (w: number, h: number): Mask => ({ data: new Uint8Array(w * h), width: w, height: h });

test('box mask: the pixels whose centres lie inside the box, as the model factory draws it', (t) => {
  const m = boxMask([1.2, 0.5, 3.5, 2.4], 6, 4);
  // centres x 1.5, 2.5, 3.5 (3.5 <= 3.5 is inside); y 0.5, 1.5 (2.5 > 2.4 is outside)
  const on = [...m.data.keys()].filter((i) => m.data[i]).map((i) => [i % 6, Math.floor(i / 6)]);
  t.deepEqual(on, [
    [1, 0],
    [2, 0],
    [3, 0],
    [1, 1],
    [2, 1],
    [3, 1],
  ]);
});

test('an empty mask from a box prompt falls back to the box; from points it stays empty in its place', (t) => {
  const fromBox = promptedCandidate(empty(8, 8), 0.7, 3, [2, 2, 6, 5]);
  t.is(maskArea(fromBox.mask), 12);
  t.deepEqual(fromBox.box, [2, 2, 6, 5]);
  t.is(fromBox.prompt, 3);
  const fromPoints = promptedCandidate(empty(8, 8), 0.7, 4, undefined);
  t.is(maskArea(fromPoints.mask), 0);
  t.deepEqual(fromPoints.box, [0, 0, 0, 0]);
  t.is(fromPoints.prompt, 4);
});

test('a non-empty mask is kept as the model made it, box prompt or not', (t) => {
  const m = empty(8, 8);
  m.data[9] = 1;
  const c = promptedCandidate(m, 0.9, 0, [0, 0, 8, 8]);
  t.is(maskArea(c.mask), 1);
  t.deepEqual(c.box, [1, 1, 2, 2]);
});
