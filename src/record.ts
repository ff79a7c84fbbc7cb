import type { FrameErrorCode } from './errors.js';
import type { Box, Mask } from './masks/mask.js';
import type { Sam2Prompt } from './models/sam2.js';
import type { Chw, Rgb } from './tensor/image.js';

/** The stages, in pipeline order; errors and timings are keyed by them. */
export type StageName = 'source' | 'decode' | 'sam2' | 'branches' | 'fusion' | 'projection' | 'embed' | 'similarity' | 'sink';

/** Where a frame came from; Kafka coordinates let the source commit and the DLQ point back. */
export type FrameOrigin =
  | { readonly kind: 'kafka'; readonly topic: string; readonly partition: number; readonly offset: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'dataset'; readonly path: string; readonly index: number }
  | { readonly kind: 'memory' };

/** Ground truth carried by dataset replay, for evaluation sinks. */
export interface GroundTruthObject {
  readonly description: string;
  readonly box: Box;
  readonly mask?: Mask;
}

export interface FrameError {
  readonly stage: StageName;
  readonly code: FrameErrorCode;
  readonly message: string;
}

/** One object found in a frame, filled in by the stages in turn. */
export interface ObjectState {
  readonly index: number;
  readonly prompt: Sam2Prompt;
  readonly mask: Mask;
  readonly box: Box;
  readonly score: number; // predicted IoU of the chosen mask
  objectFeatures?: Float32Array;
  maskFeatures?: Float32Array;
  clipFeatures?: Float32Array;
  fused?: Float32Array;
  embedding?: Float32Array; // L2-normalised, CLIP text space
  labels?: { label: string; score: number }[]; // best first
}

export interface Detection {
  readonly objectIndex: number;
  readonly label: string;
  readonly score: number;
  readonly box: Box;
  readonly mask: Mask;
}

/**
 * One record per frame. Stages add to it; a stage that fails on this frame sets `error` and
 * the later stages pass it along untouched, so the failure reaches the dead-letter sink as data.
 */
export interface FrameRecord {
  readonly streamId: string;
  readonly frameId: string;
  readonly timestamp: number; // capture time, ms since epoch
  readonly receivedAt: number; // when the source read it, ms since epoch (performance clock for staleness)
  readonly origin: FrameOrigin;
  readonly payload: Uint8Array; // the image bytes
  readonly original?: Uint8Array; // the message as received, when the image was taken out of it (envelope)
  readonly contentType?: string;
  readonly prompts?: readonly Sam2Prompt[]; // from the message; absent: automatic masks
  readonly traceparent?: string;
  readonly groundTruth?: readonly GroundTruthObject[];
  readonly headers?: Readonly<Record<string, string>>;
  error?: FrameError;
  image?: { rgb: Rgb; sam2Input: Chw; clipFrame: Chw; clipInput: Chw };
  objects?: ObjectState[];
  detections?: Detection[];
  timings: Partial<Record<StageName, number>>;
}

export function recordKey(r: Pick<FrameRecord, 'streamId' | 'frameId'>, modelVersion: string): string {
  return `${r.streamId}/${r.frameId}/${modelVersion}`;
}

export function fail(r: FrameRecord, stage: StageName, code: FrameErrorCode, message: string): FrameRecord {
  if (!r.error) r.error = { stage, code, message };
  // Large intermediates are dropped at once: a failed frame must not hold memory on its way to the DLQ.
  delete r.image;
  return r;
}

/** Frees per-frame tensors once a record's outputs no longer need them. */
export function releaseIntermediates(r: FrameRecord): void {
  if (r.image) r.image = { ...r.image, sam2Input: EMPTY, clipFrame: EMPTY, clipInput: EMPTY };
}

const EMPTY: Chw = { data: new Float32Array(0), channels: 0, height: 0, width: 0 };
