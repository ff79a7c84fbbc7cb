import type { MaskLogits } from './mask-logits.js';
import { bilinearAxis, resize } from '../tensor/resize.js';
import { boxIou, boxMask, maskBox, type Box, type Mask } from './mask.js';

/** The low-resolution logits of mask k of prompt p, upsampled to the frame (bilinear). */
export function upsampleLogits(d: MaskLogits, p: number, k: number, width: number, height: number): Float32Array {
  const m = d.maskSize;
  const off = (p * d.masksPerPrompt + k) * m * m;
  return resize({ data: d.logits.subarray(off, off + m * m), channels: 1, height: m, width: m }, height, width).data;
}

export function threshold(logits: Float32Array, width: number, height: number, t = 0): Mask {
  const data = new Uint8Array(logits.length);
  for (let i = 0; i < logits.length; i++) data[i] = logits[i]! > t ? 1 : 0;
  return { data, width, height };
}

/** SAM's stability score: area(logits > t + offset) / area(logits > t - offset). */
export function stabilityScore(logits: Float32Array, t: number, offset: number): number {
  let inner = 0;
  let outer = 0;
  for (const v of logits) {
    if (v > t + offset) inner++;
    if (v > t - offset) outer++;
  }
  return outer === 0 ? 0 : inner / outer;
}

export interface Candidate {
  readonly mask: Mask;
  readonly box: Box;
  readonly score: number;
  readonly prompt: number;
}

/** Greedy non-maximum suppression on boxes, best score first. */
export function boxNms<T extends { box: Box; score: number }>(items: readonly T[], iouThreshold: number): T[] {
  const sorted = [...items].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const c of sorted) if (kept.every((k) => boxIou(k.box, c.box) <= iouThreshold)) kept.push(c);
  return kept;
}

/** The best of the K masks of prompt p by predicted IoU. */
export function bestMask(d: MaskLogits, p: number): number {
  let best = 0;
  for (let k = 1; k < d.masksPerPrompt; k++) if (d.iou[p * d.masksPerPrompt + k]! > d.iou[p * d.masksPerPrompt + best]!) best = k;
  return best;
}

export function candidateFrom(mask: Mask, score: number, prompt: number): Candidate | undefined {
  const box = maskBox(mask); // defined only for a mask with pixels
  return box ? { mask, box, score, prompt } : undefined;
}

/**
 * The candidate of a prompted object, which always keeps its place (callers match by index): an
 * empty mask from a box prompt falls back to the box itself (the user said where the object is;
 * the model factory trains and evaluates on the same fallback), from points it stays empty.
 */
export function promptedCandidate(mask: Mask, score: number, prompt: number, box: Box | undefined): Candidate {
  const c = candidateFrom(mask, score, prompt);
  if (c) return c;
  if (box) {
    const fromBox = candidateFrom(boxMask(box, mask.width, mask.height), score, prompt);
    if (fromBox) return fromBox;
  }
  return { mask, box: [0, 0, 0, 0], score: 0, prompt };
}

// ---- The automatic generator's filters, on the low-resolution logits ------------------------
//
// The generator keeps a candidate when its predicted IoU, its stability score and its box pass
// (then box NMS). Those are defined on the mask as `upsampleLogits` gives it at frame size (as in
// SAM2's generator, whose stability score reads the masks `_predict` upsampled to the image),
// but they are computed here from the m x m logits without upsampling them: a frame pixel is a
// bilinear mix of 4 low-res samples, so where all 4 lie above (or all at or below) a threshold,
// so does every frame pixel between them, and only the pixels of cells that straddle a threshold
// (the mask's edges) are evaluated, with `resize`'s own arithmetic. The figures are therefore
// exactly those of the upsampled mask, at a cost that grows with the mask's outline instead of
// the frame; only the candidates that survive the filters and NMS are upsampled. (A stability
// score counted on the m x m grid itself would not mean the same: with 64 x 64 logits it moved 9 %
// of the demo's stability decisions across 0.9.)

/** One axis of `resize`'s bilinear enlargement (half-pixel centres): pixel o mixes i0[o] and i1[o]. */
interface Axis {
  readonly i0: Int32Array;
  readonly i1: Int32Array;
  readonly f: Float32Array;
  /** Runs of consecutive pixels that read the same two samples: [start, end) and i0, i1. */
  readonly runs: readonly { readonly start: number; readonly end: number; readonly i0: number; readonly i1: number }[];
}

// resize's own axis (so the figures equal `upsampleLogits` bit for bit), plus its runs.
function axisWithRuns(outSize: number, inSize: number): Axis {
  const { i0, i1, f } = bilinearAxis(outSize, inSize);
  const runs: { start: number; end: number; i0: number; i1: number }[] = [];
  for (let o = 0; o < outSize; o++) {
    const last = runs[runs.length - 1];
    if (last && last.i0 === i0[o] && last.i1 === i1[o]) last.end = o + 1;
    else runs.push({ start: o, end: o + 1, i0: i0[o]!, i1: i1[o]! });
  }
  return { i0, i1, f, runs };
}

/** What the filters need of one candidate mask at frame size. */
export interface MaskFigures {
  /** `stabilityScore` of the upsampled logits. */
  readonly stability: number;
  /** `maskBox` of the upsampled mask (logits > t); undefined when it is empty. */
  readonly box: Box | undefined;
}

/**
 * One m x m mask's logits seen at a frame's size, as `upsampleLogits` would give them, without
 * making the frame-size array unless asked (`upsample`).
 */
export class LowResMask {
  private readonly ys: Axis | undefined;
  private readonly xs: Axis | undefined;

  /** m: the logits' side; width, height: the frame's. */
  constructor(
    readonly maskSize: number,
    readonly width: number,
    readonly height: number,
  ) {
    // `resize` area-averages when the frame is no larger than m x m on both axes: that case
    // (tiny frames) goes through the upsampled array, which is then no larger than the logits.
    if (!(height <= maskSize && width <= maskSize)) {
      this.ys = axisWithRuns(height, maskSize);
      this.xs = axisWithRuns(width, maskSize);
    }
  }

  /** The logits at frame size: exactly `upsampleLogits`. */
  upsample(logits: Float32Array): Float32Array {
    const m = this.maskSize;
    return resize({ data: logits, channels: 1, height: m, width: m }, this.height, this.width).data;
  }

  /**
   * The upsampled mask (logits > t) at frame size, exactly `threshold(upsample(logits))`, with only
   * the pixels inside `box` computed: `box` is the mask's box as `figures` gave it (no pixel
   * outside passes), so the cost grows with the object, not the frame. No box: an empty mask.
   */
  mask(logits: Float32Array, box: Box | undefined, t = 0): Mask {
    const { width, height } = this;
    if (!this.xs || !this.ys) return threshold(this.upsample(logits), width, height, t);
    const data = new Uint8Array(width * height);
    if (box) {
      for (let oy = box[1]; oy < box[3]; oy++) {
        const row = oy * width;
        for (let ox = box[0]; ox < box[2]; ox++) if (this.pixel(logits, ox, oy) > t) data[row + ox] = 1;
      }
    }
    return { data, width, height };
  }

  /** The upsampled logit of the frame pixel that holds (x, y). */
  valueAt(logits: Float32Array, x: number, y: number): number {
    const ox = Math.min(Math.max(Math.floor(x), 0), this.width - 1);
    const oy = Math.min(Math.max(Math.floor(y), 0), this.height - 1);
    if (!this.xs || !this.ys) return this.upsample(logits)[oy * this.width + ox]!;
    return this.pixel(logits, ox, oy);
  }

  /** Stability score (thresholds t +- offset) and box (logits > t) of the upsampled mask. */
  figures(logits: Float32Array, t: number, offset: number): MaskFigures {
    const { xs, ys } = this;
    if (!xs || !ys) {
      const up = this.upsample(logits);
      return { stability: stabilityScore(up, t, offset), box: maskBox(threshold(up, this.width, this.height, t)) };
    }
    const m = this.maskSize;
    const hi = t + offset;
    const lo = t - offset;
    const floor = Math.min(hi, lo, t);
    // The low-res rows and columns with a sample above every threshold's floor: no frame pixel
    // beyond their neighbours can pass any threshold.
    let r0 = m;
    let r1 = -1;
    let c0 = m;
    let c1 = -1;
    for (let y = 0; y < m; y++) {
      const row = y * m;
      for (let x = 0; x < m; x++) {
        if (logits[row + x]! > floor) {
          if (y < r0) r0 = y;
          if (y > r1) r1 = y;
          if (x < c0) c0 = x;
          if (x > c1) c1 = x;
        }
      }
    }
    let inner = 0;
    let outer = 0;
    let bx1 = this.width;
    let by1 = this.height;
    let bx2 = -1;
    let by2 = -1;
    const mixed = (mn: number, mx: number, th: number) => mn <= th && mx > th;
    if (r1 >= 0) {
      for (const ry of ys.runs) {
        if (ry.i1 < r0 || ry.i0 > r1) continue;
        for (const rx of xs.runs) {
          if (rx.i1 < c0 || rx.i0 > c1) continue;
          const a = logits[ry.i0 * m + rx.i0]!;
          const b = logits[ry.i0 * m + rx.i1]!;
          const c = logits[ry.i1 * m + rx.i0]!;
          const d = logits[ry.i1 * m + rx.i1]!;
          const mn = Math.min(a, b, c, d);
          const mx = Math.max(a, b, c, d);
          if (mixed(mn, mx, hi) || mixed(mn, mx, lo) || mixed(mn, mx, t)) {
            for (let oy = ry.start; oy < ry.end; oy++) {
              for (let ox = rx.start; ox < rx.end; ox++) {
                const v = this.pixel(logits, ox, oy);
                if (v > hi) inner++;
                if (v > lo) outer++;
                if (v > t) {
                  if (ox < bx1) bx1 = ox;
                  if (ox > bx2) bx2 = ox;
                  if (oy < by1) by1 = oy;
                  if (oy > by2) by2 = oy;
                }
              }
            }
            continue;
          }
          // Every pixel of the block is above a threshold, or none is.
          const n = (ry.end - ry.start) * (rx.end - rx.start);
          if (mn > hi) inner += n;
          if (mn > lo) outer += n;
          if (mn > t) {
            if (rx.start < bx1) bx1 = rx.start;
            if (rx.end - 1 > bx2) bx2 = rx.end - 1;
            if (ry.start < by1) by1 = ry.start;
            if (ry.end - 1 > by2) by2 = ry.end - 1;
          }
        }
      }
    }
    return { stability: outer === 0 ? 0 : inner / outer, box: bx2 < 0 ? undefined : [bx1, by1, bx2 + 1, by2 + 1] };
  }

  /** `resize`'s bilinear value of frame pixel (ox, oy), with its operations in its order. */
  private pixel(logits: Float32Array, ox: number, oy: number): number {
    const xs = this.xs!;
    const ys = this.ys!;
    const m = this.maskSize;
    const fx = xs.f[ox]!;
    const fy = ys.f[oy]!;
    const r0 = ys.i0[oy]! * m;
    const r1 = ys.i1[oy]! * m;
    const x0 = xs.i0[ox]!;
    const x1 = xs.i1[ox]!;
    const a = logits[r0 + x0]! * (1 - fx) + logits[r0 + x1]! * fx;
    const b = logits[r1 + x0]! * (1 - fx) + logits[r1 + x1]! * fx;
    return Math.fround(a * (1 - fy) + b * fy);
  }
}

/** The automatic generator's filters (SAM2's generator settings: see `AutomaticOptions`). */
export interface AutomaticFilters {
  readonly predIouThresh: number;
  readonly stabilityScoreThresh: number;
  readonly stabilityScoreOffset: number;
  readonly boxNmsThresh: number;
  readonly objectScoreThresh: number; // logit; prompts at or below it found no object
  readonly maxObjects: number;
}

/** A mask that passed the filters, still as its low-resolution logits. */
export interface LowResCandidate {
  readonly prompt: number; // the caller's number for the prompt
  readonly k: number; // which of the prompt's masks
  readonly score: number; // predicted IoU
  readonly box: Box; // of the mask at frame size
  readonly logits: Float32Array; // m x m, a copy (the decoder's output can go)
}

/**
 * The masks of one decoder result that pass the object score, predicted IoU and stability filters
 * and are not empty at frame size, with their frame-size boxes; nothing is upsampled.
 * prompts[p] is the caller's number for prompt p of `d`.
 */
export function lowResCandidates(d: MaskLogits, prompts: readonly number[], view: LowResMask, f: AutomaticFilters): LowResCandidate[] {
  const m2 = d.maskSize * d.maskSize;
  const out: LowResCandidate[] = [];
  for (const [p, prompt] of prompts.entries()) {
    if (!(d.objectScore[p]! > f.objectScoreThresh)) continue;
    for (let k = 0; k < d.masksPerPrompt; k++) {
      const score = d.iou[p * d.masksPerPrompt + k]!;
      if (score < f.predIouThresh) continue;
      const off = (p * d.masksPerPrompt + k) * m2;
      const logits = d.logits.subarray(off, off + m2);
      const { stability, box } = view.figures(logits, 0, f.stabilityScoreOffset);
      if (stability < f.stabilityScoreThresh || !box) continue;
      out.push({ prompt, k, score, box, logits: logits.slice() });
    }
  }
  return out;
}

/**
 * Box NMS over low-res candidates, best predicted IoU first; ties keep prompt order, then mask
 * order (as when every prompt's masks were upsampled and collected in prompt order).
 */
export function nmsLowRes(candidates: readonly LowResCandidate[], iouThreshold: number): LowResCandidate[] {
  return boxNms(
    [...candidates].sort((a, b) => a.prompt - b.prompt || a.k - b.k),
    iouThreshold,
  );
}

/**
 * The generator's output from its low-res candidates: box NMS, the first `maxObjects`, and only
 * those made into frame-size masks (`toMask`, injectable for tests), inside their boxes.
 */
export function finishCandidates(
  candidates: readonly LowResCandidate[],
  f: AutomaticFilters,
  view: LowResMask,
  toMask: (logits: Float32Array, box: Box) => Mask = (l, box) => view.mask(l, box),
): Candidate[] {
  const out: Candidate[] = [];
  for (const c of nmsLowRes(candidates, f.boxNmsThresh)) {
    if (out.length >= f.maxObjects) break;
    // c.box is the mask's exact box at frame size (`figures`): the candidate's, with no rescan.
    out.push({ mask: toMask(c.logits, c.box), box: c.box, score: c.score, prompt: c.prompt });
  }
  return out;
}
