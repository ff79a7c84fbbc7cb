import type { MaskLogits } from './mask-logits.js';
import { resize } from '../tensor/resize.js';
import { boxIou, boxMask, maskArea, maskBox, type Box, type Mask } from './mask.js';

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
  const box = maskBox(mask);
  return box && maskArea(mask) > 0 ? { mask, box, score, prompt } : undefined;
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
