import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelFormatError } from '../errors.js';
import type { Chw } from '../tensor/image.js';
import type { TensorMeta } from './inference-protocol.js';
import { OBJECT_CALL_CAP, inPlannedCalls, planCalls, type PlannedCall } from './batch-shapes.js';
import type { ModelSpec, OnnxModel, SpecChoice, TensorSpec } from './onnx-model.js';
import { float32, floatOutput, int64, type Feeds } from './tensor.js';

// CLIP in the layouts public exports come in:
// - split towers (Xenova `onnx/vision_model.onnx`, `onnx/text_model.onnx`): vision gives
//   image_embeds [B,E] and last_hidden_state [B,T,D]; text takes input_ids [B,S] and, in some
//   exports (not Xenova's), the standard attention_mask and position_ids [B,S] int64 too.
// - the joint `onnx/model.onnx` (transformers' CLIPModel exported by optimum): inputs input_ids,
//   pixel_values and attention_mask; outputs logits_per_image, logits_per_text, text_embeds and
//   image_embeds, the embeddings already L2-normalised. It has no hidden states, so no vision
//   tokens: a bundle that names it may use the crop embedder, not the object-guided head (which
//   pools the tokens), unless the file adds them as JOINT_VISION_TOKENS. A bundle may name the
//   same joint file as clip.vision and clip.text; it is told apart by having both input_ids and
//   pixel_values, and each side feeds a minimal dummy for the modality it does not use.

/** Output name for the vision tokens [B,T,D] of a joint file: our choice, as the public joint export has none. */
export const JOINT_VISION_TOKENS = 'vision_last_hidden_state';

const ids2d = (name: string): TensorSpec => ({ name, type: 'int64', shape: [null, null] });
const TEXT_EXTRAS = ['attention_mask', 'position_ids'] as const;

export function clipVisionSpec(size: number): ModelSpec {
  return {
    format: 'CLIP vision tower (Xenova export)',
    inputs: [{ name: 'pixel_values', type: 'float32', shape: [null, 3, size, size] }],
    outputs: [
      { name: 'image_embeds', type: 'float32', shape: [null, null] },
      { name: 'last_hidden_state', type: 'float32', shape: [null, null, null] },
    ],
  };
}

export const clipTextSpec: ModelSpec = {
  format: 'CLIP text tower (Xenova export)',
  inputs: [ids2d('input_ids'), ...TEXT_EXTRAS.map(ids2d)],
  outputs: [
    { name: 'text_embeds', type: 'float32', shape: [null, null] },
    { name: 'last_hidden_state', type: 'float32', shape: [null, null, null] },
  ],
  optionalInputs: TEXT_EXTRAS,
};

export function clipJointSpec(size: number): ModelSpec {
  return {
    format: 'joint CLIP model (Xenova model.onnx)',
    inputs: [ids2d('input_ids'), { name: 'pixel_values', type: 'float32', shape: [null, 3, size, size] }, ...TEXT_EXTRAS.map(ids2d)],
    outputs: [
      { name: 'text_embeds', type: 'float32', shape: [null, null] },
      { name: 'image_embeds', type: 'float32', shape: [null, null] },
      { name: JOINT_VISION_TOKENS, type: 'float32', shape: [null, null, null] },
    ],
    optionalInputs: TEXT_EXTRAS,
    optionalOutputs: [JOINT_VISION_TOKENS],
  };
}

/** A joint CLIP file takes both modalities. */
export function isJointClip(inputs: readonly TensorMeta[]): boolean {
  return inputs.some((i) => i.name === 'input_ids') && inputs.some((i) => i.name === 'pixel_values');
}

/** clip.vision: a split vision tower, or a joint model. */
export function clipVisionChoice(size: number): SpecChoice {
  return {
    format: 'CLIP vision tower or joint CLIP model (Xenova export)',
    choose: (inputs) => (isJointClip(inputs) ? clipJointSpec(size) : clipVisionSpec(size)),
  };
}

/** clip.text: a split text tower, or a joint model. */
export function clipTextChoice(size: number): SpecChoice {
  return {
    format: 'CLIP text tower or joint CLIP model (Xenova export)',
    choose: (inputs) => (isJointClip(inputs) ? clipJointSpec(size) : clipTextSpec),
  };
}

/** The output holding the vision tokens [B,T,D], or undefined when the file has none. */
export function visionTokenOutput(inputs: readonly TensorMeta[], outputs: readonly TensorMeta[]): string | undefined {
  const name = isJointClip(inputs) ? JOINT_VISION_TOKENS : 'last_hidden_state';
  return outputs.some((o) => o.name === name) ? name : undefined;
}

/**
 * Vision output per image: embedding [E] and tokens [T,D] (CLS first). A file without vision
 * tokens (the public joint export) gives tokens = dim = 0 and an empty `hidden`; ModelSet then
 * refuses a head, the only user of the tokens.
 */
export interface VisionOutput {
  readonly embeds: Float32Array;
  readonly hidden: Float32Array;
  readonly tokens: number;
  readonly dim: number;
}

export class ClipVision {
  /** The [B,T,D] token output, or undefined when the file has none. */
  readonly tokenOutput: string | undefined;
  readonly joint: boolean;

  constructor(
    private readonly model: OnnxModel,
    readonly imageSize: number,
  ) {
    this.joint = isJointClip(model.inputs);
    this.tokenOutput = visionTokenOutput(model.inputs, model.outputs);
  }

  get path(): string {
    return this.model.path;
  }

  /** images: [3,V,V] normalised. */
  embed(images: readonly Chw[]): Promise<VisionOutput[]> {
    return inPlannedCalls(planCalls(images.length, this.model.batchShapes, OBJECT_CALL_CAP), (c) => this.#embedCall(images, c));
  }

  async #embedCall(all: readonly Chw[], c: PlannedCall): Promise<VisionOutput[]> {
    const images = all.slice(c.start, c.start + c.rows);
    const v = this.imageSize;
    const plane = 3 * v * v;
    const pix = new Float32Array(c.size * plane); // [size,3,V,V], the padding rows zero
    images.forEach((im, i) => pix.set(im.data, i * plane));
    const feeds: Feeds = { pixel_values: float32([c.size, 3, v, v], pix) };
    if (this.joint) Object.assign(feeds, dummyText(this.model));
    const tok = this.tokenOutput;
    const out = await this.model.run(feeds, tok ? ['image_embeds', tok] : ['image_embeds']);
    const emb = floatOutput(out, 'image_embeds'); // [B,E]
    const e = emb.dims[1]!;
    const hid = tok ? floatOutput(out, tok) : undefined; // [B,T,D]
    const [, t, d] = (hid?.dims ?? [0, 0, 0]) as [number, number, number];
    return images.map((_, i) => ({
      embeds: emb.data.slice(i * e, (i + 1) * e),
      hidden: hid ? hid.data.slice(i * t * d, (i + 1) * t * d) : new Float32Array(0),
      tokens: t,
      dim: d,
    }));
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}

/** CLIP BPE tokenizer from tokenizer.json: BOS ... EOS, padded with EOS (CLIP's pad) to 77. */
export class ClipTokenizer {
  /** The end-of-text id: what the post-processor closes every text with (49407 in CLIP). */
  readonly eos: number;

  private constructor(
    private readonly tok: Tokenizer,
    readonly contextLength: number,
  ) {
    const empty: number[] = tok.encode('').ids;
    this.eos = empty[empty.length - 1] ?? 49407;
  }

  static async open(tokenizerJson: string, configJson: string | undefined, contextLength: number): Promise<ClipTokenizer> {
    const read = async (p: string) => {
      try {
        return JSON.parse(await readFile(p, 'utf8')) as object;
      } catch (err) {
        throw new ModelFormatError(`${p}: cannot read tokenizer file (${(err as Error).message})`);
      }
    };
    const json = await read(tokenizerJson);
    const config = configJson ? await read(configJson) : {};
    return new ClipTokenizer(new Tokenizer(json, config), contextLength);
  }

  encode(text: string): BigInt64Array {
    const ids: number[] = this.tok.encode(text).ids;
    const ctx = this.contextLength;
    const eos = this.eos;
    const body = ids.length > ctx ? [...ids.slice(0, ctx - 1), eos] : ids;
    const out = new BigInt64Array(ctx).fill(BigInt(eos));
    body.forEach((id, i) => (out[i] = BigInt(id)));
    return out;
  }
}

/**
 * Feeds of a text tower for B rows of S ids: input_ids, plus attention_mask (1 for the tokens up
 * to and including the first EOS, 0 for the EOS padding after it) and position_ids (0..S-1)
 * when the file has those inputs. [B,S] int64 each
 */
export function clipTextFeeds(ids: BigInt64Array, rows: number, eos: number, has: (input: string) => boolean): Feeds {
  const s = ids.length / rows;
  const feeds: Feeds = { input_ids: int64([rows, s], ids) };
  if (has('attention_mask')) {
    const mask = new BigInt64Array(rows * s);
    const end = BigInt(eos);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < s; j++) {
        mask[r * s + j] = 1n;
        if (ids[r * s + j] === end) break;
      }
    }
    feeds.attention_mask = int64([rows, s], mask);
  }
  if (has('position_ids')) {
    const pos = new BigInt64Array(rows * s);
    for (let i = 0; i < pos.length; i++) pos[i] = BigInt(i % s);
    feeds.position_ids = int64([rows, s], pos);
  }
  return feeds;
}

/** The least text a joint model needs while it embeds images: one row of one id (any id will do). */
function dummyText(model: OnnxModel): Feeds {
  const s = model.dim('input_ids', 1) ?? 1;
  return clipTextFeeds(new BigInt64Array(s), 1, -1, (n) => model.hasInput(n));
}

export class ClipText {
  readonly joint: boolean;
  readonly #imageSize: number | undefined;

  /** imageSize: the dummy image a joint model is fed while it embeds texts (the bundle's clip.image_size). */
  constructor(
    private readonly model: OnnxModel,
    readonly tokenizer: ClipTokenizer,
    imageSize?: number,
  ) {
    this.joint = isJointClip(model.inputs);
    this.#imageSize = model.dim('pixel_values', 2) ?? imageSize;
    if (this.joint && this.#imageSize === undefined) {
      throw new ModelFormatError(`${model.path}: a joint CLIP model with a dynamic image size needs clip.image_size for its dummy image`);
    }
  }

  /** texts -> one embedding [E] each (not normalised by split towers; a joint model normalises). */
  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const ctx = this.tokenizer.contextLength;
    const ids = new BigInt64Array(texts.length * ctx); // [B,77]
    texts.forEach((t, i) => ids.set(this.tokenizer.encode(t), i * ctx));
    const feeds = clipTextFeeds(ids, texts.length, this.tokenizer.eos, (n) => this.model.hasInput(n));
    if (this.joint) {
      const v = this.#imageSize!;
      feeds.pixel_values = float32([1, 3, v, v], new Float32Array(3 * v * v)); // [1,3,V,V] dummy
    }
    const out = await this.model.run(feeds, ['text_embeds']);
    const emb = floatOutput(out, 'text_embeds'); // [B,E]
    const e = emb.dims[1]!;
    return texts.map((_, i) => emb.data.slice(i * e, (i + 1) * e));
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}
