import test from 'ava';
import { readFile } from 'node:fs/promises';
import { retrievalScores, textQuery } from '../../src/eval/retrieval.js';
import { assertClose } from '../helpers/close.js';
import { ROOT } from '../helpers/paths.js';

const v = (...xs: number[]) => Float32Array.from(xs);
const E2 = [v(1, 0), v(0, 1)]; // two captions, the axes of the plane
const E3 = [v(1, 0, 0), v(0, 1, 0), v(0, 0, 1)]; // three captions, the axes of space

test('3 captions, 4 objects: every metric by hand, both directions, ties against the query', (t) => {
  // object       label  scores vs captions 0, 1, 2   i2t rank
  // o0 .8 .6 0     0     .8  .6  0                   1
  // o1 0 .6 .8     0     0   .6 .8                   3 (both others score more than its own 0)
  // o2 0 .8 .6     1     0   .8 .6                   1
  // o3 .6 0 .8     2     .6  0  .8                   1
  const objects = [v(0.8, 0.6, 0), v(0, 0.6, 0.8), v(0, 0.8, 0.6), v(0.6, 0, 0.8)];
  const labels = [0, 0, 1, 2];
  // t2i, caption 0: scores o0 .8 (rel), o3 .6, o1 0 (rel), o2 0 -> the 0-tie puts the non-relevant
  //   o2 first: order o0 o3 o2 o1, relevant at 1 and 4: rank 1, AP (1/1 + 2/4)/2 = .75, R-prec 1/2.
  // caption 1: scores o2 .8 (rel), o0 .6, o1 .6, o3 0: rank 1, AP 1, R-prec 1.
  // caption 2: o1 .8 and o3 .8 (rel) tie, the non-relevant o1 first: rank 2, AP 1/2, R-prec 0.
  const s = retrievalScores(objects, labels, E3);
  t.deepEqual(s, {
    i2t_r1: 0.75, // 3 of 4
    i2t_r5: 1,
    i2t_r10: 1,
    t2i_r1: 0.6667, // 2 of 3
    t2i_r5: 1,
    t2i_r10: 1,
    t2i_map: 0.75, // (.75 + 1 + .5) / 3
    t2i_rprec: 0.5, // (.5 + 1 + 0) / 3
    mean_rank: 1.429, // (1 + 3 + 1 + 1 + 1 + 1 + 2) / 7 = 10/7
    i2t_mean_rank: 1.5, // 6/4
    t2i_mean_rank: 1.333, // 4/3
  });
});

test("image->text: an object's own caption tied with another caption ranks 2, not 1", (t) => {
  // The object lies on the diagonal: both captions score 1/sqrt(2), exactly equal.
  const d = Math.SQRT1_2;
  for (const label of [0, 1]) {
    const s = retrievalScores([v(d, d)], [label], E2);
    t.is(s.i2t_r1, 0, `label ${label}`);
    t.is(s.i2t_mean_rank, 2, `label ${label}`);
    t.is(s.t2i_r1, 1, `label ${label}`); // one object only: it is first whatever the tie policy
    t.is(s.mean_rank, 1.5, `label ${label}`); // (2 + 1) / 2
  }
});

test('text->image: 2 relevant objects at positions 1 and 3 of 4 give AP 0.8333 and R-precision 0.5', (t) => {
  // One query: scores .9 (rel) .7 .5 (rel) .3 -> first relevant rank 1, AP (1/1 + 2/3)/2, R = 2: 1 of the first 2.
  const q = textQuery([0.9, 0.7, 0.5, 0.3], [true, false, true, false]);
  t.is(q.rank, 1);
  assertClose(t, q.ap, 5 / 6, 1e-12, 'AP'); // unrounded, so toFixed(4) could flip with the summation order
  t.is(q.rprec, 0.5);
  // The order comes from the scores, not the index: the same query listed backwards.
  t.deepEqual(textQuery([0.3, 0.5, 0.7, 0.9], [false, true, false, true]), q);
  // Through retrievalScores: objects (x, sqrt(1 - x^2)) score x against caption 0 and sqrt(1 - x^2)
  // against caption 1. Caption 0's objects score .9, .5; caption 1's .7, .3. Caption 1's query
  // scores .95 (rel, x = .3) .87 (x = .5) .71 (rel, x = .7) .44 -> also positions 1 and 3.
  const xs = [0.9, 0.7, 0.5, 0.3];
  const s = retrievalScores(
    xs.map((x) => v(x, Math.sqrt(1 - x * x))),
    [0, 1, 0, 1],
    E2,
  );
  t.is(s.t2i_map, 0.8333);
  t.is(s.t2i_rprec, 0.5);
  t.is(s.t2i_r1, 1);
  // i2t: x = .9 -> 1; x = .7 (caption 1: .71 >= .7) -> 1; x = .5 (caption 0: .5 < .87) -> 2; x = .3 -> 1.
  t.is(s.i2t_r1, 0.75);
  t.is(s.mean_rank, 1.167); // (1 + 1 + 2 + 1 + 1 + 1) / 6
});

test('text->image: a relevant and a non-relevant object with identical embeddings: the relevant comes second', (t) => {
  // o0 (caption 0) and o1 (caption 1) share one embedding. Caption 0's query: o0 is relevant and
  // first by index, still second (rank 2, AP 1/2, R-precision 0). Caption 1's: o1 relevant, second too.
  const e = v(0.6, 0.8);
  const s = retrievalScores([e, Float32Array.from(e)], [0, 1], E2);
  t.is(s.t2i_r1, 0);
  t.is(s.t2i_mean_rank, 2);
  t.is(s.t2i_map, 0.5);
  t.is(s.t2i_rprec, 0);
  // i2t: o0 scores .6 for its caption 0 and .8 for caption 1 -> 2; o1 -> 1.
  t.is(s.i2t_mean_rank, 1.5);
  t.deepEqual(textQuery([0.6, 0.6], [true, false]), { rank: 2, ap: 0.5, rprec: 0 });
  const third = textQuery([0.6, 0.6, 0.6], [false, true, false]);
  t.deepEqual({ rank: third.rank, rprec: third.rprec }, { rank: 3, rprec: 0 });
  assertClose(t, third.ap, 1 / 3, 1e-12, 'AP');
});

test('text->image: no relevant candidate gives rank N + 1, AP 0, R-precision 0', (t) => {
  t.deepEqual(textQuery([0.5, 0.2], [false, false]), { rank: 3, ap: 0, rprec: 0 });
});

test('an object embedding of another dimension than the captions is an error naming both', (t) => {
  const err = t.throws(() => retrievalScores([v(1, 0), v(1, 0, 0)], [0, 1], E2));
  t.regex(err!.message, /object embedding 1 has dimension 3 but the caption embeddings have 2/);
});

test('empty inputs give zeros, not NaN', (t) => {
  const s = retrievalScores([], [], E2);
  for (const [k, x] of Object.entries(s)) t.is(x, 0, k);
  const none = retrievalScores([], [], []);
  for (const [k, x] of Object.entries(none)) t.is(x, 0, k);
});

test('the case shared with the factory (test/fixtures/retrieval-case.json) gives its figures exactly', async (t) => {
  const c = JSON.parse(await readFile(`${ROOT}test/fixtures/retrieval-case.json`, 'utf8')) as {
    objects: number[][];
    labels: number[];
    texts: number[][];
    expected: Record<string, number>;
  };
  const norm = (x: number[]) => {
    const n = Math.hypot(...x);
    return Float32Array.from(x.map((y) => y / n));
  };
  const got = retrievalScores(c.objects.map(norm), c.labels, c.texts.map(norm)) as unknown as Record<string, number>;
  for (const [k, v] of Object.entries(c.expected)) t.is(got[k], v, k);
});
