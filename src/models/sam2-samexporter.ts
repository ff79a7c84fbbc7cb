import type { Chw } from '../tensor/image.js';
import type { ModelSpec, OnnxModel } from './onnx-model.js';
import type { MaskLogits } from '../masks/mask-logits.js';
import type { TensorHandle } from './inference-client.js';
import { decodeInPlannedCalls, embeddingsOf, type Sam2Embeddings, type Sam2Model, type Sam2Prompt } from './sam2.js';
import { float32, floatOutput, type RunFeeds } from './tensor.js';

const FEATS = ['high_res_feats_0', 'high_res_feats_1', 'image_embed'] as const;

export function samExporterEncoderSpec(size: number): ModelSpec {
  return {
    format: 'SAM2 samexporter encoder',
    inputs: [{ name: 'image', type: 'float32', shape: [null, 3, size, size] }],
    outputs: FEATS.map((name) => ({ name, type: 'float32' as const, shape: [null, null, null, null] })),
  };
}

export const samExporterDecoderSpec: ModelSpec = {
  format: 'SAM2 samexporter decoder',
  inputs: [
    ...FEATS.map((name) => ({ name, type: 'float32' as const, shape: [null, null, null, null] })),
    { name: 'point_coords', type: 'float32', shape: [null, null, 2] },
    { name: 'point_labels', type: 'float32', shape: [null, null] },
    { name: 'mask_input', type: 'float32', shape: [null, 1, null, null] },
    { name: 'has_mask_input', type: 'float32', shape: [1] },
  ],
  outputs: [
    { name: 'masks', type: 'float32', shape: [null, null, null, null] },
    { name: 'iou_predictions', type: 'float32', shape: [null, null] },
  ],
};

/**
 * SAM2 as exported by `samexporter`: fixed batch 1 encoder, float point labels with box
 * corners as labels 2 and 3, no object score (every prompt counts as an object).
 */
export class SamExporterSam2 implements Sam2Model {
  readonly format = 'samexporter';
  readonly maxEncoderBatch = 1;

  constructor(
    private readonly encoder: OnnxModel,
    private readonly decoder: OnnxModel,
    readonly inputSize: number,
  ) {}

  async encode(frames: readonly Chw[]): Promise<Sam2Embeddings[]> {
    const s = this.inputSize;
    const handles: TensorHandle[] = [];
    try {
      // Kept in the worker, one run and one handle per frame (the export's batch is 1).
      for (const f of frames) handles.push(await this.encoder.runKeeping({ image: float32([1, 3, s, s], f.data) }, FEATS));
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

  decode(emb: Sam2Embeddings, prompts: readonly Sam2Prompt[], frameWidth: number, frameHeight: number): Promise<MaskLogits> {
    return decodeInPlannedCalls(
      prompts,
      this.decoder.batchShapes,
      (call) => this.#decodeCall(emb, call, frameWidth, frameHeight),
      (d) => this.recycle(d),
    );
  }

  async #decodeCall(emb: Sam2Embeddings, prompts: readonly Sam2Prompt[], frameWidth: number, frameHeight: number): Promise<MaskLogits> {
    const sx = this.inputSize / frameWidth;
    const sy = this.inputSize / frameHeight;
    const l = prompts.length;
    const n = Math.max(1, ...prompts.map((q) => (q.points?.length ?? 0) + (q.box ? 2 : 0)));
    const coords = new Float32Array(l * n * 2); // [L,N,2]
    const labels = new Float32Array(l * n).fill(-1); // [L,N]
    prompts.forEach((q, i) => {
      let j = 0;
      const put = (x: number, y: number, label: number) => {
        coords[(i * n + j) * 2] = x * sx;
        coords[(i * n + j) * 2 + 1] = y * sy;
        labels[i * n + j] = label;
        j++;
      };
      (q.points ?? []).forEach(([x, y], k) => put(x, y, q.labels?.[k] ?? 1));
      if (q.box) {
        put(q.box[0], q.box[1], 2);
        put(q.box[2], q.box[3], 3);
      }
    });
    const low = this.inputSize / 4;
    const feeds: RunFeeds = {
      point_coords: float32([l, n, 2], coords),
      point_labels: float32([l, n], labels),
      mask_input: float32([l, 1, low, low], new Float32Array(l * low * low)),
      has_mask_input: float32([1], new Float32Array([0])),
    };
    for (const name of FEATS) feeds[name] = emb.handle.feed(name); // a reference: the values stay in the worker
    const out = await this.decoder.run(feeds);
    const masks = floatOutput(out, 'masks'); // [L,K,m,m]
    const iou = floatOutput(out, 'iou_predictions'); // [L,K]
    return {
      maskSize: masks.dims[3]!,
      masksPerPrompt: masks.dims[1]!,
      logits: masks.data,
      iou: iou.data,
      objectScore: new Float32Array(l).fill(Number.POSITIVE_INFINITY),
    };
  }

  async dispose(): Promise<void> {
    await Promise.all([this.encoder.dispose(), this.decoder.dispose()]);
  }
}
