import { dot } from '../tensor/vector.js';

export interface RetrievalScores {
  i2t_r1: number;
  i2t_r5: number;
  i2t_r10: number;
  t2i_r1: number;
  t2i_r5: number;
  t2i_r10: number;
  mean_rank: number;
  i2t_mean_rank: number;
  t2i_mean_rank: number;
}

/**
 * The factory's retrieval protocol (training/ogclip_factory/evaluate.py), on normalised vectors:
 * image->text ranks every caption for each object; text->image ranks every object for each
 * distinct caption present and takes the first object that caption describes.
 */
export function retrievalScores(
  objects: readonly Float32Array[],
  labels: readonly number[],
  texts: readonly Float32Array[],
): RetrievalScores {
  const sims = objects.map((o) => texts.map((t) => dot(o, t)));
  const i2t = sims.map((row, i) => 1 + row.filter((s) => s > row[labels[i]!]!).length);
  const t2i: number[] = [];
  for (const t of [...new Set(labels)]) {
    const order = objects.map((_, i) => i).sort((a, b) => sims[b]![t]! - sims[a]![t]!);
    t2i.push(order.findIndex((i) => labels[i] === t) + 1);
  }
  const at = (ranks: number[], k: number) => round(ranks.filter((r) => r <= k).length / Math.max(ranks.length, 1));
  const mean = (ranks: number[]) => round(ranks.reduce((a, b) => a + b, 0) / Math.max(ranks.length, 1), 3);
  return {
    i2t_r1: at(i2t, 1),
    i2t_r5: at(i2t, 5),
    i2t_r10: at(i2t, 10),
    t2i_r1: at(t2i, 1),
    t2i_r5: at(t2i, 5),
    t2i_r10: at(t2i, 10),
    mean_rank: mean([...i2t, ...t2i]),
    i2t_mean_rank: mean(i2t),
    t2i_mean_rank: mean(t2i),
  };
}

function round(x: number, digits = 4): number {
  return Number(x.toFixed(digits));
}
