import test from 'ava';
import { readBundle } from '../../src/models/bundle.js';
import { callSizes, planCalls, type BatchShapes } from '../../src/models/batch-shapes.js';
import { openModelSet, type ModelSet } from '../../src/models/model-set.js';
import type { Sam2Prompt } from '../../src/models/sam2.js';
import { defaultSessionOptions } from '../../src/models/session-options.js';
import type { Chw } from '../../src/tensor/image.js';
import { DEFAULT_BUNDLE } from '../helpers/paths.js';

const sizes = (n: number, shapes: BatchShapes, cap?: number, pad?: boolean) =>
  planCalls(n, shapes, cap, pad).map((c) => (c.rows === c.size ? c.size : `${c.rows}/${c.size}`));

test('powers-of-two calls pad by at most a quarter and split otherwise', (t) => {
  t.deepEqual(sizes(0, 'powers-of-two'), []);
  t.deepEqual(sizes(1, 'powers-of-two'), [1]);
  t.deepEqual(sizes(3, 'powers-of-two'), [2, 1], 'padding 3 to 4 would waste a third');
  t.deepEqual(sizes(7, 'powers-of-two'), ['7/8']);
  t.deepEqual(sizes(37, 'powers-of-two'), [32, 4, 1]);
  t.deepEqual(sizes(64, 'powers-of-two', 64), [64]);
  t.deepEqual(sizes(100, 'powers-of-two', 64), [64, 32, 4]);
  t.deepEqual(sizes(200, 'powers-of-two', 100), [64, 64, 64, 8], 'the cap rounds down to a power of two');
  t.deepEqual(sizes(7, 'powers-of-two', 4, false), [4, 2, 1], 'without padding: split only');
});

test('exact calls take the rows as they come, cut only at the cap', (t) => {
  t.deepEqual(sizes(37, 'exact'), [37]);
  t.deepEqual(sizes(37, 'exact', 16), [16, 16, 5]);
  t.deepEqual(callSizes('exact', 64), [1]);
});

test('every plan covers its rows once, in order, with sizes warm-up runs', (t) => {
  // Capped plans (objects, encoder frames) up to 300 rows; uncapped ones (decoder prompts, at most
  // pointsPerBatch a call, which padding may round up) up to the most rows warm-up is told of.
  const plans: [number | undefined, number][] = [
    [1, 300],
    [4, 300],
    [64, 300],
    [100, 300],
    [undefined, 64],
    [undefined, 100],
    [undefined, 110],
  ];
  for (const [cap, most] of plans) {
    const warmed = new Set(cap === undefined ? callSizes('powers-of-two', most, false) : callSizes('powers-of-two', cap));
    for (let n = 1; n <= most; n++) {
      const calls = planCalls(n, 'powers-of-two', cap);
      let next = 0;
      for (const c of calls) {
        t.is(c.start, next);
        t.true(warmed.has(c.size), `n=${n} cap=${cap}: size ${c.size} is not warmed up`);
        t.true(c.size - c.rows <= 0.25 * c.rows, `n=${n}: ${c.size - c.rows} padding rows for ${c.rows}`);
        next += c.rows;
      }
      t.is(next, n);
    }
  }
});

async function modelsWith(batchShapes: BatchShapes): Promise<ModelSet> {
  return openModelSet(await readBundle(DEFAULT_BUNDLE), { ...defaultSessionOptions, batchShapes });
}

/** Distinct inputs, so that a row given another row's output would show. */
function images(n: number, v: number): Chw[] {
  return Array.from({ length: n }, (_, k) => {
    const data = new Float32Array(3 * v * v);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.013 + k * 1.7);
    return { data, channels: 3, height: v, width: v };
  });
}

const close = (t: { true(v: boolean, m?: string): void }, a: Float32Array, b: Float32Array, what: string) => {
  t.true(a.length === b.length, `${what}: ${a.length} values against ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  t.true(worst < 1e-4, `${what}: differs by ${worst}`);
};

test('padded and split calls give each row what an exact call gives it', async (t) => {
  const [padded, exact] = await Promise.all([modelsWith('powers-of-two'), modelsWith('exact')]);
  t.teardown(() => Promise.all([padded.dispose(), exact.dispose()]));
  // 7 rows: one call of 8 with a padding row; 3 rows: calls of 2 and 1.
  for (const n of [7, 3]) {
    const ims = images(n, padded.clipVision.imageSize);
    const [a, b] = await Promise.all([padded.clipVision.embed(ims), exact.clipVision.embed(ims)]);
    t.is(a.length, n);
    a.forEach((row, i) => {
      close(t, row.embeds, b[i]!.embeds, `CLIP row ${i} of ${n}`);
      close(t, row.hidden, b[i]!.hidden, `CLIP tokens ${i} of ${n}`);
    });
    const h = padded.head!;
    const c = 3 * h.crops.length;
    const crops = {
      object_pixels: {
        dims: [n, c, h.objectSize, h.objectSize],
        data: Float32Array.from({ length: n * c * h.objectSize ** 2 }, (_, i) => Math.sin(i * 0.01)),
      },
    };
    const [p, e] = await Promise.all([h.objectBranch.run(crops), exact.head!.objectBranch.run(crops)]);
    t.is(p.length, n);
    p.forEach((row, i) => close(t, row, e[i]!, `object branch row ${i} of ${n}`));
  }
  // 5 prompts: calls of 4 and 1; 7 prompts: one of 8, a padding prompt.
  const s = padded.sam2.inputSize;
  const frames = images(3, s);
  const [ea, eb] = await Promise.all([padded.sam2.encode(frames), exact.sam2.encode(frames)]);
  t.teardown(() => {
    for (const e of ea) padded.sam2.release(e);
    for (const e of eb) exact.sam2.release(e);
  });
  t.is(ea.length, 3, 'one embedding set per frame of an encoder batch of 3 (calls of 2 and 1)');
  for (const n of [5, 7]) {
    const prompts = Array.from({ length: n }, (_, i): Sam2Prompt => ({ points: [[20 + 30 * i, 40 + 20 * i]], labels: [1] }));
    const [a, b] = await Promise.all([padded.sam2.decode(ea[2]!, prompts, s, s), exact.sam2.decode(eb[2]!, prompts, s, s)]);
    t.is(a.objectScore.length, n);
    close(t, a.logits, b.logits, `decoder logits, ${n} prompts`);
    close(t, a.iou, b.iou, `decoder IoU, ${n} prompts`);
    close(t, a.objectScore, b.objectScore, `decoder object scores, ${n} prompts`);
  }
  t.is((await padded.sam2.decode(ea[2]!, [], s, s)).objectScore.length, 0, 'no prompts, no call, no rows');
});
