import type { OperatorFunction } from 'rxjs';
import { map } from 'rxjs';
import { ConfigError } from '../errors.js';
import { maskIou } from '../masks/mask.js';
import type { LabelSet } from '../models/label-set.js';
import type { Detection, FrameRecord } from '../record.js';
import { dot } from '../tensor/vector.js';

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
 * object, and detections (best label over the threshold, mask NMS across the frame).
 */
export function similarityStage(options: SimilarityOptions): OperatorFunction<FrameRecord, FrameRecord> {
  if (!(options.topK >= 1)) throw new ConfigError(`similarity.topK must be >= 1, got ${options.topK}`);
  if (!(options.logitScale > 0)) throw new ConfigError(`similarity.logitScale must be > 0, got ${options.logitScale}`);
  return map((r) => {
    if (r.error || !r.objects) return r;
    const t0 = performance.now();
    const labels = options.labels;
    const candidates: Detection[] = [];
    for (const o of r.objects) {
      if (!o.embedding) continue;
      const scores = scoreLabels(o.embedding, labels, options.score, options.logitScale);
      const order = scores.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0]);
      o.labels = order.slice(0, options.topK).map(([score, i]) => ({ label: labels.labels[i]!, score }));
      const best = order[0];
      if (best && best[0] >= options.scoreThreshold && o.box[2] > o.box[0]) {
        candidates.push({ objectIndex: o.index, label: labels.labels[best[1]]!, score: best[0], box: o.box, mask: o.mask });
      }
    }
    candidates.sort((a, b) => b.score - a.score);
    const kept: Detection[] = [];
    for (const c of candidates) if (kept.every((k) => maskIou(k.mask, c.mask) <= options.maskNmsThresh)) kept.push(c);
    r.detections = kept;
    r.timings.similarity = performance.now() - t0;
    return r;
  });
}
