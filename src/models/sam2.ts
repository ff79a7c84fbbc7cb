import type { Box } from '../masks/mask.js';
import type { MaskLogits } from '../masks/mask-logits.js';
import type { Chw } from '../tensor/image.js';
import { planCalls, type BatchShapes } from './batch-shapes.js';
import type { TensorHandle } from './inference-client.js';

/** A prompt in frame pixels: positive/negative points, a box, or both. */
export interface Sam2Prompt {
  readonly points?: readonly (readonly [number, number])[];
  readonly labels?: readonly (0 | 1)[]; // 1 positive, 0 negative; defaults to all positive
  readonly box?: Box;
}

/**
 * One frame's encoder output, kept in the inference worker: its values never come back to the
 * main thread, and every decoder call references them instead of sending them again. Opaque to
 * the stages: give it to `decode`, then `release` it.
 */
export interface Sam2Embeddings {
  /** Each embedding tensor's dims ([1, C, h, w]), by the export's output name. */
  readonly dims: Readonly<Record<string, readonly number[]>>;
  /** The adapter's handle on the values (`handle.read()` copies them back, for tests). */
  readonly handle: TensorHandle;
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
  /** Frees a frame's embeddings in the worker once its prompts are decoded; idempotent. */
  release(embeddings: Sam2Embeddings): void;
  /**
   * Gives a decoder result's buffers back for later results to reuse, once nothing reads it any
   * more (the result and every view of its arrays are unusable afterwards). A result's logits
   * buffer is its own: a view of part of it (a padded call's rows) gives back the whole.
   */
  recycle(result: MaskLogits): void;
  dispose(): Promise<void>;
}

/** A frame's embeddings from the handle that keeps them. */
export function embeddingsOf(handle: TensorHandle): Sam2Embeddings {
  return { handle, dims: Object.fromEntries(Object.entries(handle.outputs).map(([name, t]) => [name, t.dims])) };
}

/**
 * The frames of one encoder batch with their embeddings, in order, for a for-of loop that
 * decodes each frame's prompts: a frame's embeddings are released when the loop moves on to the
 * next frame, and every one still held when the loop ends early (a thrown error, a break), as
 * for-of closes the iterator. A model that returned the wrong number of embeddings fails the
 * batch before any frame is changed, and releases them all too.
 */
export function* framesWithEmbeddings<T>(
  model: Pick<Sam2Model, 'release'>,
  frames: readonly T[],
  embeddings: readonly Sam2Embeddings[],
): Generator<[T, Sam2Embeddings], void, undefined> {
  try {
    if (embeddings.length !== frames.length) {
      throw new Error(`the SAM2 encoder returned ${embeddings.length} rows for ${frames.length} inputs`);
    }
    for (const [i, frame] of frames.entries()) {
      yield [frame, embeddings[i]!];
      model.release(embeddings[i]!);
    }
  } finally {
    for (const e of embeddings) model.release(e);
  }
}

/**
 * A decoder call for any number of prompts, as calls of the sizes `batchShapes` plans: each
 * call's prompts padded with copies of its first (a valid prompt of the frame, so the padding
 * rows cannot fail where the real ones would not), the padding rows' outputs dropped, and the
 * calls' outputs concatenated in prompt order. `runCall` runs exactly the prompts it is given.
 */
export async function decodeInPlannedCalls(
  prompts: readonly Sam2Prompt[],
  shapes: BatchShapes,
  runCall: (prompts: readonly Sam2Prompt[]) => Promise<MaskLogits>,
  recycle: (d: MaskLogits) => void,
): Promise<MaskLogits> {
  if (prompts.length === 0)
    return { maskSize: 0, masksPerPrompt: 0, logits: new Float32Array(0), iou: new Float32Array(0), objectScore: new Float32Array(0) };
  const calls = planCalls(prompts.length, shapes);
  const parts: MaskLogits[] = [];
  for (const c of calls) {
    const chunk = prompts.slice(c.start, c.start + c.rows);
    const padded = c.size > c.rows ? [...chunk, ...Array.from({ length: c.size - c.rows }, () => chunk[0]!)] : chunk;
    parts.push(await runCall(padded));
  }
  if (parts.length === 1) return firstPrompts(parts[0]!, calls[0]!.rows);
  const out = concatPrompts(parts.map((d, i) => firstPrompts(d, calls[i]!.rows)));
  for (const d of parts) recycle(d); // copied into `out`: the calls' own buffers go back whole
  return out;
}

/** The first `p` prompts' outputs (views, no copy). */
function firstPrompts(d: MaskLogits, p: number): MaskLogits {
  const k = d.masksPerPrompt;
  if (d.objectScore.length === p) return d;
  return {
    maskSize: d.maskSize,
    masksPerPrompt: k,
    logits: d.logits.subarray(0, p * k * d.maskSize * d.maskSize),
    iou: d.iou.subarray(0, p * k),
    objectScore: d.objectScore.subarray(0, p),
  };
}

function concatPrompts(parts: readonly MaskLogits[]): MaskLogits {
  const [first] = parts;
  if (parts.some((d) => d.maskSize !== first!.maskSize || d.masksPerPrompt !== first!.masksPerPrompt))
    throw new Error('the SAM2 decoder returned masks of different sizes for one frame');
  const cat = (pick: (d: MaskLogits) => Float32Array) => {
    const out = new Float32Array(parts.reduce((n, d) => n + pick(d).length, 0));
    let at = 0;
    for (const d of parts) {
      out.set(pick(d), at);
      at += pick(d).length;
    }
    return out;
  };
  return {
    maskSize: first!.maskSize,
    masksPerPrompt: first!.masksPerPrompt,
    logits: cat((d) => d.logits),
    iou: cat((d) => d.iou),
    objectScore: cat((d) => d.objectScore),
  };
}
