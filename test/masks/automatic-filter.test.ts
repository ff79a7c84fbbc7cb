import test from 'ava';
import type { MaskLogits } from '../../src/masks/mask-logits.js';
import { maskBox, type Box } from '../../src/masks/mask.js';
import { LowResMask, stabilityScore, threshold, upsampleLogits } from '../../src/masks/postprocess.js';
import type { Sam2Prompt } from '../../src/models/sam2.js';
import { automaticMasks, gridPasses, pointGrid, samAutomaticDefaults, type AutomaticOptions } from '../../src/stages/sam2.js';

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** m x m logits of a few soft blobs (values across the thresholds, edges of every slope) plus noise. */
function blobs(m: number, seed: number): Float32Array {
  const r = random(seed);
  const out = new Float32Array(m * m).fill(-6);
  for (let b = 0; b < 3; b++) {
    const cx = r() * m;
    const cy = r() * m;
    const rad = 1 + r() * m * 0.3;
    const slope = 0.5 + r() * 6;
    for (let y = 0; y < m; y++)
      for (let x = 0; x < m; x++) {
        const v = (rad - Math.hypot(x + 0.5 - cx, y + 0.5 - cy)) * slope;
        out[y * m + x] = Math.max(out[y * m + x]!, v + (r() - 0.5) * 0.5);
      }
  }
  return out;
}

const single = (logits: Float32Array, m: number): MaskLogits => ({
  maskSize: m,
  logits,
  masksPerPrompt: 1,
  iou: new Float32Array([1]),
  objectScore: new Float32Array([1]),
});

test('low-res figures and masks are those of the upsampled mask, bit for bit (enlarging, mixed axes, same size, shrinking)', (t) => {
  const sizes: [number, number, number][] = [
    [64, 256, 256],
    [64, 300, 200],
    [16, 70, 16],
    [64, 100, 40],
    [64, 64, 64],
    [64, 32, 48],
  ];
  let seed = 1;
  for (const [m, width, height] of sizes) {
    const view = new LowResMask(m, width, height);
    for (let i = 0; i < 6; i++) {
      const logits = blobs(m, seed++);
      const up = upsampleLogits(single(logits, m), 0, 0, width, height);
      t.deepEqual(view.upsample(logits), up);
      for (const offset of [1, 0.25]) {
        const got = view.figures(logits, 0, offset);
        const label = `${m} -> ${width}x${height}, blobs ${seed - 1}, offset ${offset}`;
        t.is(got.stability, stabilityScore(up, 0, offset), label);
        t.deepEqual(got.box, maskBox(threshold(up, width, height)), label);
      }
      // The mask made inside its box only is the thresholded upsampled mask, pixel for pixel.
      const { box } = view.figures(logits, 0, 1);
      t.deepEqual(view.mask(logits, box), threshold(up, width, height), `${m} -> ${width}x${height}: mask inside its box`);
      for (const [x, y] of [
        [0, 0],
        [width / 2 + 0.3, height / 3],
        [width - 0.5, height - 0.5],
      ] as const)
        t.is(view.valueAt(logits, x, y), up[Math.floor(y) * width + Math.floor(x)]!);
    }
  }
});

test('the grid passes: every other point of every other row first, then the rest, each point once', (t) => {
  t.deepEqual(gridPasses(4, 2), [
    [0, 2, 8, 10],
    [1, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14, 15],
  ]);
  t.deepEqual(gridPasses(3, 2), [
    [0, 2, 6, 8],
    [1, 3, 4, 5, 7],
  ]);
  t.deepEqual(gridPasses(3, 1), [[0, 1, 2, 3, 4, 5, 6, 7, 8]]);
  t.deepEqual(
    gridPasses(5, 4)
      .flat()
      .sort((a, b) => a - b),
    [...Array(25).keys()],
  );
});

// A 64 x 64 frame, 16 x 16 logits (one low-res pixel = 4 frame pixels), 3 masks per prompt.
const M = 16;
const W = 64;
const options: AutomaticOptions = {
  ...samAutomaticDefaults,
  pointsPerSide: 4,
  pointsPerBatch: 3,
  predIouThresh: 0.7,
  stabilityScoreThresh: 0.9,
  boxNmsThresh: 0.7,
};

/**
 * Low-res logits: +8 inside [x1, x2) x [y1, y2) (low-res pixels), -8 elsewhere; the last pixel,
 * outside every square of these tests, carries an id (deep negative: the mask does not change).
 */
function square(x1: number, y1: number, x2: number, y2: number, id: number, inside = 8): Float32Array {
  const l = new Float32Array(M * M).fill(-8);
  for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) l[y * M + x] = inside;
  l[M * M - 1] = -100 - id;
  return l;
}

type Answer = { objectScore: number; masks: [Float32Array, number][] } | undefined;

/** A decoder that answers each point from a table (no answer: no object), logging the points it was given. */
function fakeDecoder(answer: (x: number, y: number) => Answer) {
  const calls: (readonly [number, number])[][] = [];
  const decode = async (chunk: readonly Sam2Prompt[]): Promise<MaskLogits> => {
    calls.push(chunk.map((p) => p.points![0]!));
    const k = 3;
    const logits = new Float32Array(chunk.length * k * M * M).fill(-8);
    const iou = new Float32Array(chunk.length * k);
    const objectScore = new Float32Array(chunk.length).fill(-5);
    chunk.forEach((p, i) => {
      const [x, y] = p.points![0]!;
      const a = answer(x, y);
      if (!a) return;
      objectScore[i] = a.objectScore;
      a.masks.forEach(([l, score], j) => {
        logits.set(l, (i * k + j) * M * M);
        iou[i * k + j] = score;
      });
    });
    return { maskSize: M, masksPerPrompt: k, logits, iou, objectScore };
  };
  return { calls, decode };
}

test('a candidate rejected at low resolution is never upsampled: only the survivors of the filters and NMS are', async (t) => {
  // Grid points at 8, 24, 40, 56 (frame pixels) = low-res 2, 6, 10, 14.
  const good = square(0, 0, 8, 8, 1); // 32 x 32 frame pixels, stable
  const lowIou = square(0, 0, 8, 8, 2);
  const unstable = square(8, 0, 16, 8, 3, 0.5); // logits 0.5: nothing above t + offset, stability 0
  const duplicate = square(0, 0, 8, 7, 4); // box IoU 7/8 with `good`, lower score: suppressed by NMS
  const other = square(9, 9, 14, 14, 5); // a second object
  const hidden = square(0, 8, 8, 16, 6); // from a prompt whose object score says no object
  const { decode } = fakeDecoder((x, y) => {
    if (x === 8 && y === 8)
      return {
        objectScore: 2,
        masks: [
          [good, 0.95],
          [lowIou, 0.5],
          [unstable, 0.9],
        ],
      };
    if (x === 24 && y === 24) return { objectScore: 2, masks: [[duplicate, 0.8]] };
    if (x === 40 && y === 40) return { objectScore: 2, masks: [[other, 0.85]] };
    if (x === 8 && y === 40) return { objectScore: -1, masks: [[hidden, 0.99]] };
    return undefined;
  });
  const upsampled: number[] = [];
  const view = new LowResMask(M, W, W);
  const toMask = (l: Float32Array, box: Box) => {
    upsampled.push(-100 - l[M * M - 1]!);
    return view.mask(l, box);
  };
  for (const coarsestStride of [2, 1]) {
    upsampled.length = 0;
    const grid = pointGrid(4, W, W);
    const { candidates } = await automaticMasks({ grid, width: W, height: W, options, decode, toMask, coarsestStride });
    t.deepEqual(
      candidates.map((c) => c.box),
      [
        [0, 0, 32, 32],
        [36, 36, 56, 56],
      ],
    );
    t.deepEqual(
      candidates.map((c) => c.prompt),
      [0, 10],
    );
    // Upsampled: `good` and `other`, nothing else, once each.
    t.deepEqual(upsampled, [1, 5], `coarsestStride ${coarsestStride}`);
  }
});

test('coarse to fine: the second pass does not prompt points inside masks accepted in the first', async (t) => {
  // One object over frame pixels [0, 40) x [0, 40) (low-res [0, 10)): grid points (8|24|40|56, ...)
  // inside it are (8, 8), (24, 8), (8, 24), (24, 24); (40, *) and (*, 40) are on its edge, outside.
  const object = square(0, 0, 10, 10, 1);
  const { calls, decode } = fakeDecoder((x, y) => (x < 40 && y < 40 ? { objectScore: 3, masks: [[object, 0.9]] } : undefined));
  const grid = pointGrid(4, W, W);
  const { candidates, prompted } = await automaticMasks({ grid, width: W, height: W, options, decode, coarsestStride: 2 });
  t.is(candidates.length, 1);
  t.deepEqual(candidates[0]!.box, [0, 0, 40, 40]);
  const inside = [1, 4, 5]; // (24, 8), (8, 24), (24, 24): second-pass points the first pass's mask covers
  t.deepEqual(prompted, [0, 2, 8, 10, 3, 6, 7, 9, 11, 12, 13, 14, 15]);
  for (const q of inside) t.false(prompted.includes(q), `grid point ${q} was prompted`);
  // In chunks of pointsPerBatch, each pass on its own.
  t.deepEqual(
    calls.map((c) => c.length),
    [3, 1, 3, 3, 3],
  );
  // Every point once in a single pass (no coarse-to-fine): all 16 prompted, the same object found.
  const all = await automaticMasks({ grid, width: W, height: W, options, decode, coarsestStride: 1 });
  t.is(all.prompted.length, 16);
  t.deepEqual(
    all.candidates.map((c) => c.box),
    [[0, 0, 40, 40]],
  );
});
