import { dot } from '../tensor/vector.js';

export interface RetrievalScores {
  i2t_r1: number;
  i2t_r5: number;
  i2t_r10: number;
  t2i_r1: number;
  t2i_r5: number;
  t2i_r10: number;
  t2i_map: number;
  t2i_rprec: number;
  mean_rank: number;
  i2t_mean_rank: number;
  t2i_mean_rank: number;
}

/** One caption's text->image query: the first relevant object's rank, average precision, R-precision. */
export interface TextQuery {
  rank: number;
  ap: number;
  rprec: number;
}

/**
 * The factory's retrieval protocol (training/ogclip_factory/metrics.py), on L2-normalised vectors,
 * similarity = dot product.
 *
 * Tie policy, the same in both directions: ties count against the query. A candidate that is not
 * relevant and scores the same as (or more than) a relevant one is ranked before it; candidates
 * are ordered by score descending, then non-relevant before relevant, then by index.
 *
 * - image->text: each object ranks every caption; its own caption (`labels[i]`) is the one
 *   relevant item: rank = 1 + number of other captions scoring >= its own caption.
 * - text->image: each distinct caption present among `labels` (ascending caption index) ranks
 *   every object; the objects with that caption are relevant. Reported: the rank of the first
 *   relevant object (R@K, mean rank), average precision (mean over the relevant objects of the
 *   precision at each one's position; `t2i_map` is its mean over captions) and R-precision
 *   (relevant share of the first R, R = number of relevant objects; `t2i_rprec`).
 * - `mean_rank` averages every image->text rank and every text->image first-relevant rank.
 *
 * Shares are rounded to 4 decimals, mean ranks to 3; empty inputs give 0, not NaN.
 * Throws when an object embedding and the caption embeddings differ in dimension.
 */
export function retrievalScores(
  objects: readonly Float32Array[],
  labels: readonly number[],
  texts: readonly Float32Array[],
): RetrievalScores {
  if (labels.length !== objects.length) {
    throw new Error(`retrievalScores: ${objects.length} object embeddings but ${labels.length} labels`);
  }
  const dim = texts[0]?.length;
  texts.forEach((t, j) => {
    if (t.length !== dim) throw new Error(`retrievalScores: caption embedding ${j} has dimension ${t.length}, caption 0 has ${dim}`);
  });
  objects.forEach((o, i) => {
    if (dim !== undefined && o.length !== dim) {
      throw new Error(`retrievalScores: object embedding ${i} has dimension ${o.length} but the caption embeddings have ${dim}`);
    }
  });
  labels.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= texts.length) {
      throw new Error(`retrievalScores: object ${i} has caption index ${l}, not one of the ${texts.length} captions`);
    }
  });
  return retrievalFromSimilarities(
    objects.map((o) => texts.map((t) => dot(o, t))),
    labels,
  );
}

/**
 * The same scores from a similarity matrix (`sims[i][t]`: object i against caption t), however it
 * was computed: by dot products here, or by the scores an object index returns for caption
 * queries (retrievalThroughIndex).
 */
export function retrievalFromSimilarities(sims: readonly (readonly number[])[], labels: readonly number[]): RetrievalScores {
  if (labels.length !== sims.length) throw new Error(`retrievalFromSimilarities: ${sims.length} objects but ${labels.length} labels`);
  const i2t = sims.map((row, i) => {
    const own = labels[i]!;
    let rank = 1;
    row.forEach((s, j) => {
      if (j !== own && s >= row[own]!) rank++;
    });
    return rank;
  });
  const t2i: TextQuery[] = [...new Set(labels)]
    .sort((a, b) => a - b)
    .map((t) =>
      textQuery(
        sims.map((row) => row[t]!),
        labels.map((l) => l === t),
      ),
    );
  const firsts = t2i.map((q) => q.rank);
  const at = (ranks: number[], k: number) => round(ranks.filter((r) => r <= k).length / Math.max(ranks.length, 1));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  return {
    i2t_r1: at(i2t, 1),
    i2t_r5: at(i2t, 5),
    i2t_r10: at(i2t, 10),
    t2i_r1: at(firsts, 1),
    t2i_r5: at(firsts, 5),
    t2i_r10: at(firsts, 10),
    t2i_map: round(mean(t2i.map((q) => q.ap))),
    t2i_rprec: round(mean(t2i.map((q) => q.rprec))),
    mean_rank: round(mean([...i2t, ...firsts]), 3),
    i2t_mean_rank: round(mean(i2t), 3),
    t2i_mean_rank: round(mean(firsts), 3),
  };
}

/**
 * One text->image query over N candidates, ties against the query (see `retrievalScores`).
 * No relevant candidate: rank N + 1, AP 0, R-precision 0.
 */
export function textQuery(scores: readonly number[], relevant: readonly boolean[]): TextQuery {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || Number(relevant[a]) - Number(relevant[b]) || a - b);
  const hits: number[] = []; // 0-based positions of the relevant objects in `order`
  order.forEach((i, pos) => {
    if (relevant[i]) hits.push(pos);
  });
  const r = hits.length;
  if (r === 0) return { rank: scores.length + 1, ap: 0, rprec: 0 };
  // Sequential sums, as the factory adds them, so both round to the same figures.
  let sum = 0;
  hits.forEach((pos, k) => (sum += (k + 1) / (pos + 1)));
  return { rank: hits[0]! + 1, ap: sum / r, rprec: hits.filter((pos) => pos < r).length / r };
}

/** Halves round up: the same arithmetic as `fixed` in training/ogclip_factory/metrics.py. */
function round(x: number, digits = 4): number {
  const scale = 10 ** digits;
  return Math.floor(x * scale + 0.5) / scale;
}
