import type { Box } from '../masks/mask.js';
import type { MaskLogits } from '../masks/mask-logits.js';
import type { Chw } from '../tensor/image.js';

/** A prompt in frame pixels: positive/negative points, a box, or both. */
export interface Sam2Prompt {
  readonly points?: readonly (readonly [number, number])[];
  readonly labels?: readonly (0 | 1)[]; // 1 positive, 0 negative; defaults to all positive
  readonly box?: Box;
}

/** One frame's encoder output, kept as the decoder wants it. */
export interface Sam2Embeddings {
  readonly tensors: Record<string, { dims: readonly number[]; data: Float32Array }>;
}

/** What the sam2 stage needs from a SAM2 export, whatever its file format. */
export interface Sam2Model {
  readonly format: 'onnx-community' | 'samexporter';
  readonly inputSize: number;
  readonly maxEncoderBatch: number; // 1 where the export has a fixed batch
  /** frames: [3,S,S] normalised -> one embedding set per frame. */
  encode(frames: readonly Chw[]): Promise<Sam2Embeddings[]>;
  /** Prompts in frame pixels of a frame of the given size. */
  decode(embeddings: Sam2Embeddings, prompts: readonly Sam2Prompt[], frameWidth: number, frameHeight: number): Promise<MaskLogits>;
  dispose(): Promise<void>;
}
