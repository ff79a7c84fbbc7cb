import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelFormatError } from '../errors.js';
import type { Chw } from '../tensor/image.js';
import type { ModelSpec, OnnxModel } from './onnx-model.js';
import { float32, floatOutput, int64 } from './tensor.js';

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
  inputs: [{ name: 'input_ids', type: 'int64', shape: [null, null] }],
  outputs: [
    { name: 'text_embeds', type: 'float32', shape: [null, null] },
    { name: 'last_hidden_state', type: 'float32', shape: [null, null, null] },
  ],
};

/** Vision output per image: embedding [E] and tokens [T,D] (CLS first). */
export interface VisionOutput {
  readonly embeds: Float32Array;
  readonly hidden: Float32Array;
  readonly tokens: number;
  readonly dim: number;
}

export class ClipVision {
  constructor(
    private readonly model: OnnxModel,
    readonly imageSize: number,
  ) {}

  /** images: [3,V,V] normalised. */
  async embed(images: readonly Chw[]): Promise<VisionOutput[]> {
    if (images.length === 0) return [];
    const v = this.imageSize;
    const plane = 3 * v * v;
    const pix = new Float32Array(images.length * plane); // [B,3,V,V]
    images.forEach((im, i) => pix.set(im.data, i * plane));
    const out = await this.model.run({ pixel_values: float32([images.length, 3, v, v], pix) });
    const emb = floatOutput(out, 'image_embeds'); // [B,E]
    const hid = floatOutput(out, 'last_hidden_state'); // [B,T,D]
    const e = emb.dims[1]!;
    const [, t, d] = hid.dims as [number, number, number];
    return images.map((_, i) => ({
      embeds: emb.data.slice(i * e, (i + 1) * e),
      hidden: hid.data.slice(i * t * d, (i + 1) * t * d),
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
  private constructor(
    private readonly tok: Tokenizer,
    readonly contextLength: number,
  ) {}

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
    const eos = ids[ids.length - 1] ?? 49407;
    const body = ids.length > ctx ? [...ids.slice(0, ctx - 1), eos] : ids;
    const out = new BigInt64Array(ctx).fill(BigInt(eos));
    body.forEach((id, i) => (out[i] = BigInt(id)));
    return out;
  }
}

export class ClipText {
  constructor(
    private readonly model: OnnxModel,
    readonly tokenizer: ClipTokenizer,
  ) {}

  /** texts -> one embedding [E] each (not normalised). */
  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const ctx = this.tokenizer.contextLength;
    const ids = new BigInt64Array(texts.length * ctx); // [B,77]
    texts.forEach((t, i) => ids.set(this.tokenizer.encode(t), i * ctx));
    const out = await this.model.run({ input_ids: int64([texts.length, ctx], ids) });
    const emb = floatOutput(out, 'text_embeds'); // [B,E]
    const e = emb.dims[1]!;
    return texts.map((_, i) => emb.data.slice(i * e, (i + 1) * e));
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}
