import type { ObjectIndex } from '../index/object-index.js';
import { retrievalFromSimilarities, type RetrievalScores } from './retrieval.js';

/**
 * The retrieval protocol of `retrievalScores`, with every similarity taken from the index: each
 * caption is one search over the whole index (k = every object), and the cosine similarity the
 * index returns for an object is that object's score against the caption. Both directions
 * (image->text ranks per object, text->image ranks per caption) are then ranked from that matrix
 * exactly as from dot products, so on an exact index the figures equal the in-memory ones.
 *
 * `truth`: object key -> caption index, for the objects that take part (the index may hold
 * more; those are left out). Throws when the index lacks one of them or returns a caption query
 * without it (an approximate index that missed it).
 */
export async function retrievalThroughIndex(
  index: ObjectIndex,
  truth: ReadonlyMap<string, number>,
  texts: readonly Float32Array[],
): Promise<RetrievalScores> {
  const keys = [...truth.keys()];
  const row = new Map(keys.map((k, i) => [k, i]));
  const all = await index.count();
  const sims: number[][] = keys.map(() => new Array<number>(texts.length).fill(Number.NaN));
  for (const [t, text] of texts.entries()) {
    for (const hit of await index.search(text, {}, Math.max(all, 1))) {
      const i = row.get(hit.key);
      if (i !== undefined) sims[i]![t] = hit.score;
    }
  }
  sims.forEach((s, i) => {
    const missing = s.findIndex((v) => Number.isNaN(v));
    if (missing >= 0) throw new Error(`retrievalThroughIndex: object ${keys[i]} is not among the index's results for caption ${missing}`);
  });
  return retrievalFromSimilarities(
    sims,
    keys.map((k) => truth.get(k)!),
  );
}
