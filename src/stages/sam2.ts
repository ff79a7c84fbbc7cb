import type { OperatorFunction } from 'rxjs';
import { ConfigError } from '../errors.js';
import type { Box, Mask } from '../masks/mask.js';
import type { MaskLogits } from '../masks/mask-logits.js';
import {
  bestMask,
  finishCandidates,
  LowResMask,
  lowResCandidates,
  nmsLowRes,
  promptedCandidate,
  type AutomaticFilters,
  type Candidate,
  type LowResCandidate,
} from '../masks/postprocess.js';
import { framesWithEmbeddings, type Sam2Model, type Sam2Prompt } from '../models/sam2.js';
import { inferInBatches, type ModelBatching } from '../operators/infer-in-batches.js';
import { fail, imageOf, type FrameImage, type FrameRecord, type SegmentedObject } from '../record.js';

/** Automatic mask generation, SAM2's generator defaults (reference/onnx-formats.md). */
export interface AutomaticOptions extends AutomaticFilters {
  readonly pointsPerSide: number;
  readonly pointsPerBatch: number;
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
  readonly batch: ModelBatching;
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
 * The grid's passes, coarse to fine: every `coarsest`-th point of every `coarsest`-th row first,
 * then the points of the grid with half that stride not taken yet, down to every point. Grid
 * indices (row-major, as `pointGrid`), in grid order within a pass.
 */
export function gridPasses(n: number, coarsest: number): number[][] {
  const taken = new Uint8Array(n * n);
  const passes: number[][] = [];
  for (let s = Math.max(1, Math.floor(coarsest)); ; s = Math.max(1, Math.floor(s / 2))) {
    const pass: number[] = [];
    for (let j = 0; j < n; j += s)
      for (let i = 0; i < n; i += s)
        if (!taken[j * n + i]) {
          taken[j * n + i] = 1;
          pass.push(j * n + i);
        }
    if (pass.length > 0) passes.push(pass);
    if (s === 1) return passes;
  }
}

/**
 * Stride of the generator's first pass over the grid (then half, down to 1). 1: every point in
 * one pass, the default: on the demo, stride 2 saved 4 % of decoder prompts but lost recall
 * (0.909 -> 0.901; an object next to another hides behind the mask that covers both).
 */
const COARSEST_STRIDE = 1;

export interface AutomaticMaskRun {
  /** pointGrid(n, width, height) of the frame. */
  readonly grid: readonly Sam2Prompt[];
  readonly width: number;
  readonly height: number;
  readonly options: AutomaticOptions;
  /** The decoder on this frame's embeddings, at most pointsPerBatch prompts a call. */
  decode(chunk: readonly Sam2Prompt[]): Promise<MaskLogits>;
  /** Low-res logits to the frame-size mask inside its box (default: `LowResMask.mask`); tests count the calls. */
  readonly toMask?: (logits: Float32Array, box: Box) => Mask;
  /** Stride of the first pass (default COARSEST_STRIDE); 1: every point in one pass. */
  readonly coarsestStride?: number;
  /** Called with each decoder result once nothing reads it any more (`Sam2Model.recycle`). */
  readonly recycle?: (d: MaskLogits) => void;
}

/**
 * SAM2's automatic mask generator over a frame's point grid, coarse to fine (`gridPasses`): a
 * pass prompts only its points that no mask accepted so far (the box-NMS survivors of the earlier
 * passes) covers at frame size, as such a point would mostly find that mask again. Candidates
 * are filtered on the decoder's low-resolution logits (`lowResCandidates`: object score,
 * predicted IoU, stability and box, with the same figures as the upsampled masks), box NMS runs
 * over all passes' candidates, and only the first `maxObjects` survivors are upsampled.
 * `prompt` of a candidate is its grid index; `prompted` lists the grid indices decoded, in order.
 */
export async function automaticMasks(run: AutomaticMaskRun): Promise<{ candidates: Candidate[]; prompted: number[] }> {
  const a = run.options;
  const n = Math.round(Math.sqrt(run.grid.length));
  if (n * n !== run.grid.length) throw new Error(`automaticMasks: ${run.grid.length} grid points are not an n x n grid`);
  let view: LowResMask | undefined;
  const found: LowResCandidate[] = [];
  const prompted: number[] = [];
  for (const pass of gridPasses(n, run.coarsestStride ?? COARSEST_STRIDE)) {
    const accepted = view ? nmsLowRes(found, a.boxNmsThresh) : [];
    const covered = (q: number) => {
      const [x, y] = run.grid[q]!.points![0]!;
      return accepted.some((c) => view!.valueAt(c.logits, x, y) > 0);
    };
    const todo = pass.filter((q) => !covered(q));
    for (let start = 0; start < todo.length; start += a.pointsPerBatch) {
      const points = todo.slice(start, start + a.pointsPerBatch);
      const d = await run.decode(points.map((q) => run.grid[q]!));
      view ??= new LowResMask(d.maskSize, run.width, run.height);
      if (d.maskSize !== view.maskSize)
        throw new Error(`the SAM2 decoder returned ${d.maskSize}x${d.maskSize} masks after ${view.maskSize}x${view.maskSize}`);
      found.push(...lowResCandidates(d, points, view, a)); // the candidates copy their logits
      prompted.push(...points);
      run.recycle?.(d);
    }
  }
  return { candidates: view ? finishCandidates(found, a, view, run.toMask) : [], prompted };
}

/**
 * sam2: the image encoder once per frame (batched over frames), then the prompt decoder per
 * prompt batch. Prompted frames get the best mask per prompt; automatic frames run the point
 * grid, coarse to fine, through the predicted-IoU, stability and box-NMS filters (`automaticMasks`).
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
    concurrency: options.batch.concurrency ?? 1,
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
        if (w.auto) {
          const grid = w.prompts;
          const { candidates: found } = await automaticMasks({
            grid,
            width,
            height,
            options: a,
            decode: (chunk) => model.decode(embedding, chunk, width, height),
            recycle: (d) => model.recycle(d),
          });
          for (const c of found) candidates.push({ ...c, given: grid[c.prompt]! });
        } else {
          for (let start = 0; start < w.prompts.length; start += a.pointsPerBatch) {
            const chunk = w.prompts.slice(start, start + a.pointsPerBatch);
            const d = await model.decode(embedding, chunk, width, height);
            const view = new LowResMask(d.maskSize, width, height);
            const m2 = d.maskSize * d.maskSize;
            for (const [p, given] of chunk.entries()) {
              const k = bestMask(d, p);
              const off = (p * d.masksPerPrompt + k) * m2;
              const logits = d.logits.subarray(off, off + m2);
              // The mask's box first (from the low-res logits), then only the pixels inside it.
              const box = view.figures(logits, 0, 0).box;
              const mask = view.mask(logits, box);
              const score = d.iou[p * d.masksPerPrompt + k]!;
              candidates.push({
                ...(box ? { mask, box, score, prompt: start + p } : promptedCandidate(mask, score, start + p, given.box)),
                given,
              });
            }
            model.recycle(d); // every mask is made: the logits are no longer read
          }
        }
        // Automatic candidates come box-NMS'd and capped at maxObjects, prompted ones one per prompt.
        w.r.objects = candidates.map((c, index): SegmentedObject => ({
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
