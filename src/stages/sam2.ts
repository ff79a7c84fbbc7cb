import type { OperatorFunction } from 'rxjs';
import { ConfigError } from '../errors.js';
import {
  boxNms,
  bestMask,
  candidateFrom,
  promptedCandidate,
  stabilityScore,
  threshold,
  upsampleLogits,
  type Candidate,
} from '../masks/postprocess.js';
import { framesWithEmbeddings, type Sam2Model, type Sam2Prompt } from '../models/sam2.js';
import { inferInBatches } from '../operators/infer-in-batches.js';
import { fail, imageOf, type FrameImage, type FrameRecord, type SegmentedObject } from '../record.js';

/** Automatic mask generation, SAM2's generator defaults (reference/onnx-formats.md). */
export interface AutomaticOptions {
  readonly pointsPerSide: number;
  readonly pointsPerBatch: number;
  readonly predIouThresh: number;
  readonly stabilityScoreThresh: number;
  readonly stabilityScoreOffset: number;
  readonly boxNmsThresh: number;
  readonly objectScoreThresh: number; // logit; prompts below it found no object
  readonly maxObjects: number;
}

export const samAutomaticDefaults: AutomaticOptions = {
  pointsPerSide: 32,
  pointsPerBatch: 64,
  predIouThresh: 0.8,
  stabilityScoreThresh: 0.95,
  stabilityScoreOffset: 1.0,
  boxNmsThresh: 0.7,
  objectScoreThresh: 0,
  maxObjects: 100,
};

export interface Sam2StageOptions {
  readonly model: Sam2Model;
  /** prompted: only frames with prompts get masks; automatic: frames without prompts use the grid. */
  readonly mode: 'prompted' | 'automatic';
  readonly automatic: AutomaticOptions;
  readonly batch: { readonly maxSize: number; readonly maxWaitMs: number };
}

/** Checks message prompts against the frame; the message says which prompt is wrong and why. */
export function checkPrompts(prompts: readonly Sam2Prompt[], width: number, height: number): string | undefined {
  for (const [i, p] of prompts.entries()) {
    const pts = p.points ?? [];
    if (pts.length === 0 && !p.box) return `prompt ${i} has neither points nor a box`;
    if (p.labels && p.labels.length !== pts.length) return `prompt ${i} has ${pts.length} points but ${p.labels.length} labels`;
    for (const [x, y] of pts) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) return `prompt ${i}: point (${x}, ${y}) is not a finite number`;
      if (x < 0 || y < 0 || x >= width || y >= height) return `prompt ${i}: point (${x}, ${y}) is outside the ${width}x${height} frame`;
    }
    if (p.box) {
      const [x1, y1, x2, y2] = p.box;
      if (![x1, y1, x2, y2].every(Number.isFinite)) return `prompt ${i}: box has a non-finite coordinate`;
      if (!(x2 > x1 && y2 > y1)) return `prompt ${i}: box [${p.box.join(', ')}] must have x2 > x1 and y2 > y1`;
      if (x2 <= 0 || y2 <= 0 || x1 >= width || y1 >= height)
        return `prompt ${i}: box [${p.box.join(', ')}] lies outside the ${width}x${height} frame`;
    }
  }
  return undefined;
}

/** The generator's point grid: cell centres of an n x n grid over the frame. */
export function pointGrid(n: number, width: number, height: number): Sam2Prompt[] {
  const out: Sam2Prompt[] = [];
  for (let j = 0; j < n; j++)
    for (let i = 0; i < n; i++) out.push({ points: [[((i + 0.5) * width) / n, ((j + 0.5) * height) / n]], labels: [1] });
  return out;
}

/**
 * sam2: the image encoder once per frame (batched over frames), then the prompt decoder per
 * prompt batch. Prompted frames get the best mask per prompt; automatic frames run the point
 * grid through the predicted-IoU, stability and box-NMS filters.
 */
export function sam2Stage(options: Sam2StageOptions): OperatorFunction<FrameRecord, FrameRecord> {
  const a = options.automatic;
  if (!(a.pointsPerSide >= 1 && a.pointsPerBatch >= 1))
    throw new ConfigError('sam2.automatic: pointsPerSide and pointsPerBatch must be >= 1');
  if (!(a.boxNmsThresh > 0 && a.boxNmsThresh <= 1))
    throw new ConfigError(`sam2.automatic.boxNmsThresh must be in (0, 1], got ${a.boxNmsThresh}`);
  const model = options.model;
  return inferInBatches({
    stage: 'sam2',
    maxSize: Math.min(options.batch.maxSize, model.maxEncoderBatch),
    maxWaitMs: options.batch.maxWaitMs,
    concurrency: 1,
    run: async (records) => {
      const work: { r: FrameRecord; image: FrameImage; prompts: readonly Sam2Prompt[]; auto: boolean }[] = [];
      for (const r of records) {
        const image = imageOf(r, 'sam2');
        if (!image) continue;
        const { width, height } = image.rgb;
        if (r.prompts && r.prompts.length > 0) {
          const problem = checkPrompts(r.prompts, width, height);
          if (problem) fail(r, 'sam2', 'bad-prompt', problem);
          else work.push({ r, image, prompts: r.prompts, auto: false });
        } else if (options.mode === 'automatic') {
          work.push({ r, image, prompts: pointGrid(a.pointsPerSide, width, height), auto: true });
        } else {
          fail(r, 'sam2', 'bad-prompt', 'frame has no prompts and the topology runs sam2 in prompted mode');
        }
      }
      if (work.length === 0) return;
      const embeddings = await model.encode(work.map((w) => w.image.sam2Input));
      // Each frame's embeddings are released once its prompts are decoded, and all if this fails.
      for (const [w, embedding] of framesWithEmbeddings(model, work, embeddings)) {
        const { width, height } = w.image.rgb;
        const candidates: (Candidate & { readonly given: Sam2Prompt })[] = [];
        for (let start = 0; start < w.prompts.length; start += a.pointsPerBatch) {
          const chunk = w.prompts.slice(start, start + a.pointsPerBatch);
          const d = await model.decode(embedding, chunk, width, height);
          for (const [p, given] of chunk.entries()) {
            if (w.auto) {
              if (!(d.objectScore[p]! > a.objectScoreThresh)) continue;
              for (let k = 0; k < d.masksPerPrompt; k++) {
                const iou = d.iou[p * d.masksPerPrompt + k]!;
                if (iou < a.predIouThresh) continue;
                const logits = upsampleLogits(d, p, k, width, height);
                if (stabilityScore(logits, 0, a.stabilityScoreOffset) < a.stabilityScoreThresh) continue;
                const c = candidateFrom(threshold(logits, width, height), iou, start + p);
                if (c) candidates.push({ ...c, given });
              }
            } else {
              const k = bestMask(d, p);
              const mask = threshold(upsampleLogits(d, p, k, width, height), width, height);
              candidates.push({ ...promptedCandidate(mask, d.iou[p * d.masksPerPrompt + k]!, start + p, given.box), given });
            }
          }
        }
        const kept = w.auto ? boxNms(candidates, a.boxNmsThresh).slice(0, a.maxObjects) : candidates;
        w.r.objects = kept.map((c, index): SegmentedObject => ({
          state: 'segmented',
          index,
          prompt: c.given,
          mask: c.mask,
          box: c.box,
          score: c.score,
        }));
      }
    },
  });
}
