import type { OperatorFunction } from 'rxjs';
import { map } from 'rxjs';
import { ConfigError } from '../errors.js';
import { maskIou } from '../masks/mask.js';
import type { LabelSet } from '../models/label-set.js';
import { fail, objectBase, objectsAt, type Detection, type FrameRecord, type LabelledObject } from '../record.js';
import { dot } from '../tensor/vector.js';
import { rowsInOrder } from './model-rows.js';

export type ScoreKind = 'softmax' | 'cosine';

export interface SimilarityOptions {
  readonly labels: LabelSet;
  readonly score: ScoreKind; // softmax over the label set (logit scale applied) or raw cosine
  readonly logitScale: number;
  readonly scoreThreshold: number;
  readonly topK: number; // labels kept per object
  readonly maskNmsThresh: number; // detections whose masks overlap more than this keep the best one
}

/** Scores of one embedding against the label set: softmax probabilities or cosines. */
export function scoreLabels(embedding: Float32Array, labels: LabelSet, kind: ScoreKind, logitScale: number): number[] {
  const cos = labels.embeddings.map((t) => dot(embedding, t));
  if (kind === 'cosine') return cos;
  const logits = cos.map((c) => c * logitScale);
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/**
 * similarity: each object's embedding against the cached label embeddings -> top labels per
 * object, and detections (best label over the threshold, mask NMS across the frame). Reads
 * 'embedded' objects (or 'labelled' ones, which it labels again: re-scoring collected records
 * under other settings, as bench/tune-automatic.ts does) and gives 'labelled' ones.
 */
export function similarityStage(options: SimilarityOptions): OperatorFunction<FrameRecord, FrameRecord> {
  if (!(options.topK >= 1)) throw new ConfigError(`similarity.topK must be >= 1, got ${options.topK}`);
  if (!(options.logitScale > 0)) throw new ConfigError(`similarity.logitScale must be > 0, got ${options.logitScale}`);
  return map((r) => {
    if (r.error) return r;
    const objects = objectsAt(r, 'similarity', 'embedded', 'labelled');
    if (!objects) return r;
    const t0 = performance.now();
    try {
      const labels = options.labels;
      const candidates: Detection[] = [];
      const labelled = objects.map((o): LabelledObject => {
        const scores = scoreLabels(o.embedding, labels, options.score, options.logitScale);
        const next = rowsInOrder(scores, labels.labels.length, 'the label scores');
        const ranked = labels.labels.map((label) => ({ label, score: next() })).sort((a, b) => b.score - a.score);
        const best = ranked[0];
        if (best && best.score >= options.scoreThreshold && o.box[2] > o.box[0]) {
          candidates.push({ objectIndex: o.index, label: best.label, score: best.score, box: o.box, mask: o.mask });
        }
        return { ...objectBase(o), state: 'labelled', embedding: o.embedding, labels: ranked.slice(0, options.topK) };
      });
      candidates.sort((a, b) => b.score - a.score);
      const kept: Detection[] = [];
      for (const c of candidates) if (kept.every((k) => maskIou(k.mask, c.mask) <= options.maskNmsThresh)) kept.push(c);
      r.objects = labelled;
      r.detections = kept;
    } catch (err) {
      // An embedding of another size than the labels' (dot refuses it): this record fails, the stream goes on.
      fail(r, 'similarity', 'inference-failed', (err as Error).message ?? String(err));
    }
    r.timings.similarity = performance.now() - t0;
    return r;
  });
}
