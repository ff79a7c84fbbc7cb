import test from 'ava';
import { readFile } from 'node:fs/promises';
import { decodeRle, encodeRle } from '../../src/masks/rle.js';
import { maskArea, maskBox } from '../../src/masks/mask.js';
import { interiorPoint } from '../../src/masks/interior-point.js';
import { SHAPES_VAL } from '../helpers/paths.js';

test('encode -> decode is the identity; runs are column-major and start with zeros', (t) => {
  const m = { width: 3, height: 2, data: Uint8Array.from([1, 0, 0, 1, 1, 0]) };
  const rle = encodeRle(m);
  t.deepEqual(rle, { size: [2, 3], counts: [0, 2, 1, 1, 2] });
  t.deepEqual(decodeRle(rle), m);
});

test("the factory's RLE masks decode to masks that fill their boxes", async (t) => {
  const doc = JSON.parse(await readFile(`${SHAPES_VAL}/dataset.json`, 'utf8')) as {
    images: { objects: { bbox: number[]; mask: { size: [number, number]; counts: number[] } }[] }[];
  };
  for (const im of doc.images.slice(0, 20)) {
    for (const o of im.objects) {
      const m = decodeRle(o.mask);
      t.deepEqual(maskBox(m), o.bbox as never);
      t.true(maskArea(m) > 0);
      t.deepEqual(encodeRle(m), o.mask);
    }
  }
});

test('bad RLE (counts do not cover the frame) is rejected with the sizes in the message', (t) => {
  t.throws(() => decodeRle({ size: [2, 2], counts: [1, 1] }), { message: /sum to 2, expected 4/ });
});

test('interior point lies inside the mask, away from its border', (t) => {
  const w = 9;
  const data = new Uint8Array(w * w);
  for (let y = 1; y < 8; y++) for (let x = 1; x < 8; x++) data[y * w + x] = 1;
  t.deepEqual(interiorPoint({ width: w, height: w, data }), [4.5, 4.5]);
  t.is(interiorPoint({ width: 2, height: 2, data: new Uint8Array(4) }), undefined);
});
