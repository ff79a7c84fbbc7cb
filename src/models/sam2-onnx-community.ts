import type { OnnxModel, ModelSpec } from './onnx-model.js';
import type { MaskLogits } from '../masks/mask-logits.js';
import { planCalls } from './batch-shapes.js';
import type { TensorHandle } from './inference-client.js';
import { decodeInPlannedCalls, embeddingsOf, type Sam2Embeddings, type Sam2Model, type Sam2Prompt } from './sam2.js';
import { float32, floatOutput, int64, type RunFeeds } from './tensor.js';
import type { Chw } from '../tensor/image.js';

const EMB = ['image_embeddings.0', 'image_embeddings.1', 'image_embeddings.2'] as const;

export function onnxCommunityEncoderSpec(size: number): ModelSpec {
  return {
    format: 'SAM2 onnx-community vision encoder',
    inputs: [{ name: 'pixel_values', type: 'float32', shape: [null, 3, size, size] }],
    outputs: EMB.map((name) => ({ name, type: 'float32' as const, shape: [null, null, null, null] })),
  };
}

export const onnxCommunityDecoderSpec: ModelSpec = {
  format: 'SAM2 onnx-community prompt encoder + mask decoder',
  inputs: [
    { name: 'input_points', type: 'float32', shape: [null, null, null, 2] },
    { name: 'input_labels', type: 'int64', shape: [null, null, null] },
    { name: 'input_boxes', type: 'float32', shape: [null, null, 4] },
    ...EMB.map((name) => ({ name, type: 'float32' as const, shape: [null, null, null, null] })),
  ],
  outputs: [
    { name: 'iou_scores', type: 'float32', shape: [null, null, null] },
    { name: 'pred_masks', type: 'float32', shape: [null, null, null, null, null] },
    { name: 'object_score_logits', type: 'float32', shape: [null, null, 1] },
  ],
  optionalInputs: ['input_boxes'],
};

/** SAM2 as exported by Hugging Face `onnx-community` (transformers.js). */
export class OnnxCommunitySam2 implements Sam2Model {
  readonly format = 'onnx-community';
  readonly maxEncoderBatch: number;

  constructor(
    private readonly encoder: OnnxModel,
    private readonly decoder: OnnxModel,
    readonly inputSize: number,
  ) {
    this.maxEncoderBatch = encoder.dim('pixel_values', 0) ?? 64;
  }

  async encode(frames: readonly Chw[]): Promise<Sam2Embeddings[]> {
    const s = this.inputSize;
    const plane = 3 * s * s;
    const handles: TensorHandle[] = [];
    try {
      // Split, never padded: a padding frame costs a whole encoder pass.
      for (const c of planCalls(frames.length, this.encoder.batchShapes, this.maxEncoderBatch, false)) {
        const pix = new Float32Array(c.rows * plane); // [B,3,S,S]
        for (let i = 0; i < c.rows; i++) pix.set(frames[c.start + i]!.data, i * plane);
        // Kept in the worker, one handle per frame ([1,C,h,w] each): nothing comes back here.
        handles.push(...(await this.encoder.runKeepingPerItem({ pixel_values: float32([c.rows, 3, s, s], pix) }, EMB, c.rows)));
      }
    } catch (err) {
      for (const h of handles) h.drop(); // the frames before the failure are not returned: not to be leaked
      throw err;
    }
    return handles.map(embeddingsOf);
  }

  release(emb: Sam2Embeddings): void {
    emb.handle.drop();
  }

  recycle(result: MaskLogits): void {
    // The whole buffer: a padded call's result is a view of its first rows, and no one else holds it.
    this.decoder.recycle([new Float32Array(result.logits.buffer)]);
  }

  async decode(emb: Sam2Embeddings, prompts: readonly Sam2Prompt[], frameWidth: number, frameHeight: number): Promise<MaskLogits> {
    // Prompts with and without boxes cannot share one call (input_boxes is [B,0,4] or [B,P,4]).
    const boxed = prompts.filter((q) => q.box);
    if (boxed.length === 0 || boxed.length === prompts.length) {
      return this.#decodeGroup(emb, prompts, boxed.length > 0, frameWidth, frameHeight);
    }
    const plain = prompts.filter((q) => !q.box);
    const [a, b] = await Promise.all([
      this.#decodeGroup(emb, boxed, true, frameWidth, frameHeight),
      this.#decodeGroup(emb, plain, false, frameWidth, frameHeight),
    ]);
    const merged = mergeInOrder(
      prompts.map((q) => !!q.box),
      a,
      b,
    );
    this.recycle(a); // copied into `merged`
    this.recycle(b);
    return merged;
  }

  /**
   * Point columns of a group of box-only prompts. SAM2 itself embeds a box alone (its export takes
   * an empty [1,P,0,2] point input, as transformers.js sends it); one padding point (label -1)
   * would add a "not a point" token and change the masks (measured: 2.7 % of the logit range on
   * the tiny random SAM2). Decoders that need at least one point (the factory's own segmenter)
   * fail on the empty input: learnt on the first box-only group and remembered.
   */
  #boxOnlyPoints: 0 | 1 | undefined;

  async #decodeGroup(
    emb: Sam2Embeddings,
    prompts: readonly Sam2Prompt[],
    withBox: boolean,
    frameWidth: number,
    frameHeight: number,
  ): Promise<MaskLogits> {
    return decodeInPlannedCalls(
      prompts,
      this.decoder.batchShapes,
      (call) => this.#decodeCall(emb, call, withBox, frameWidth, frameHeight),
      (d) => this.recycle(d),
    );
  }

  async #decodeCall(
    emb: Sam2Embeddings,
    prompts: readonly Sam2Prompt[],
    withBox: boolean,
    frameWidth: number,
    frameHeight: number,
  ): Promise<MaskLogits> {
    const boxOnly = withBox && prompts.every((q) => (q.points?.length ?? 0) === 0);
    if (!boxOnly) return this.#run(emb, prompts, withBox, undefined, frameWidth, frameHeight);
    if (this.#boxOnlyPoints !== undefined) return this.#run(emb, prompts, true, this.#boxOnlyPoints, frameWidth, frameHeight);
    try {
      const out = await this.#run(emb, prompts, true, 0, frameWidth, frameHeight);
      this.#boxOnlyPoints = 0;
      return out;
    } catch (first) {
      // Only a decoder that then runs with one padding point is taken to need it; any other
      // failure (the same error again, memory) is the first error, and nothing is remembered.
      let out: MaskLogits;
      try {
        out = await this.#run(emb, prompts, true, 1, frameWidth, frameHeight);
      } catch {
        throw first;
      }
      this.#boxOnlyPoints = 1;
      return out;
    }
  }

  async #run(
    emb: Sam2Embeddings,
    prompts: readonly Sam2Prompt[],
    withBox: boolean,
    boxOnlyPoints: 0 | 1 | undefined,
    frameWidth: number,
    frameHeight: number,
  ): Promise<MaskLogits> {
    const sx = this.inputSize / frameWidth;
    const sy = this.inputSize / frameHeight;
    const p = prompts.length;
    // SAM2 closes the points of a prompt without a box with one "not a point" token (label -1):
    // its prompt encoder pads when no box is given. An export traced with input_boxes never
    // pads inside the graph, even for an empty [1,0,4] box input, so that token is added here;
    // without it the masks differ from the model's own (checked against PyTorch in the tests).
    const pad = !withBox && this.decoder.hasInput('input_boxes') ? 1 : 0;
    const n = boxOnlyPoints ?? Math.max(1, ...prompts.map((q) => q.points?.length ?? 0)) + pad;
    const pts = new Float32Array(p * n * 2); // [1,P,N,2] in the S x S frame
    const lab = new BigInt64Array(p * n).fill(-1n); // [1,P,N], -1 = padding
    const boxes = new Float32Array(withBox ? p * 4 : 0); // [1,P,4] or [1,0,4]
    prompts.forEach((q, i) => {
      (q.points ?? []).forEach(([x, y], j) => {
        pts[(i * n + j) * 2] = x * sx;
        pts[(i * n + j) * 2 + 1] = y * sy;
        lab[i * n + j] = BigInt(q.labels?.[j] ?? 1);
      });
      if (q.box && withBox) boxes.set([q.box[0] * sx, q.box[1] * sy, q.box[2] * sx, q.box[3] * sy], i * 4);
    });
    const feeds: RunFeeds = {
      input_points: float32([1, p, n, 2], pts),
      input_labels: int64([1, p, n], lab),
    };
    if (this.decoder.hasInput('input_boxes')) feeds.input_boxes = float32([1, withBox ? p : 0, 4], boxes);
    for (const name of EMB) feeds[name] = emb.handle.feed(name); // a reference: the values stay in the worker
    const out = await this.decoder.run(feeds);
    const masks = floatOutput(out, 'pred_masks'); // [1,P,K,m,m]
    const iou = floatOutput(out, 'iou_scores'); // [1,P,K]
    const obj = floatOutput(out, 'object_score_logits'); // [1,P,1]
    return {
      maskSize: masks.dims[4]!,
      masksPerPrompt: masks.dims[2]!,
      logits: masks.data,
      iou: iou.data,
      objectScore: obj.data,
    };
  }

  async dispose(): Promise<void> {
    await Promise.all([this.encoder.dispose(), this.decoder.dispose()]);
  }
}

/** Interleaves two decoder results back into the prompts' order (isA[i]: prompt i is in a). */
function mergeInOrder(isA: readonly boolean[], a: MaskLogits, b: MaskLogits): MaskLogits {
  const k = a.masksPerPrompt;
  const m2 = a.maskSize * a.maskSize;
  const p = isA.length;
  const logits = new Float32Array(p * k * m2);
  const iou = new Float32Array(p * k);
  const objectScore = new Float32Array(p);
  let ia = 0;
  let ib = 0;
  isA.forEach((fromA, i) => {
    const src = fromA ? a : b;
    const j = fromA ? ia++ : ib++;
    logits.set(src.logits.subarray(j * k * m2, (j + 1) * k * m2), i * k * m2);
    iou.set(src.iou.subarray(j * k, (j + 1) * k), i * k);
    objectScore[i] = src.objectScore[j]!;
  });
  return { maskSize: a.maskSize, masksPerPrompt: k, logits, iou, objectScore };
}
