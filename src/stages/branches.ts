import type { OperatorFunction } from 'rxjs';
import type { ClipVision } from '../models/clip.js';
import { stack } from '../models/head.js';
import type { ObjectGuidedHead } from '../models/model-set.js';
import { inferInBatches } from '../operators/infer-in-batches.js';
import type { FrameRecord, ObjectState } from '../record.js';
import type { Mask } from '../masks/mask.js';
import { maskInput, maskedCrop, poolTokens } from '../masks/crop.js';
import type { Chw } from '../tensor/image.js';

export interface BranchesOptions {
  readonly head: ObjectGuidedHead;
  readonly clipVision: ClipVision;
  readonly batch: { readonly maxSize: number; readonly maxWaitMs: number };
}

/**
 * branches: the three inputs of the object-guided head for every object of a batch of frames.
 * CLIP branch: the vision tower runs once per frame and each object pools the frame's tokens
 * under its mask. Object branch: the masked crop. Mask branch: the full-frame mask.
 */
export function branchesStage(options: BranchesOptions): OperatorFunction<FrameRecord, FrameRecord> {
  const { head, clipVision } = options;
  return inferInBatches({
    stage: 'branches',
    ...options.batch,
    concurrency: 1,
    run: async (records) => {
      const withObjects = records.filter((r) => (r.objects?.length ?? 0) > 0);
      const vision = await clipVision.embed(withObjects.map((r) => r.image!.clipInput)); // once per frame
      const objs: ObjectState[] = [];
      const pixels: Float32Array[] = [];
      const masks: Float32Array[] = [];
      withObjects.forEach((r, i) => {
        const v = vision[i]!;
        for (const o of r.objects!) {
          objs.push(o);
          pixels.push(objectCrops(r.image!.clipFrame, o.mask, head)); // [3K,R,R]
          masks.push(maskInput(o.mask, head.maskSize).data); // [1,M,M]
          o.clipFeatures = poolTokens(v.hidden, v.tokens, v.dim, v.embeds, o.mask); // [Dv+E]
        }
      });
      if (objs.length === 0) return;
      const px = stack(pixels);
      const mk = stack(masks);
      const [objectFeatures, maskFeatures] = await Promise.all([
        head.objectBranch.run({
          object_pixels: { dims: [objs.length, 3 * head.crops.length, head.objectSize, head.objectSize], data: px.data },
        }),
        head.maskBranch.run({ object_mask: { dims: [objs.length, 1, head.maskSize, head.maskSize], data: mk.data } }),
      ]);
      objs.forEach((o, i) => {
        o.objectFeatures = objectFeatures[i];
        o.maskFeatures = maskFeatures[i];
      });
    },
  });
}

/** The object's masked crops at every scale of the head, concatenated on the channel axis. */
function objectCrops(frame: Chw, mask: Mask, head: ObjectGuidedHead): Float32Array {
  if (head.crops.length === 1) return maskedCrop(frame, mask, head.objectSize, head.crops[0]!).data;
  const plane = 3 * head.objectSize * head.objectSize;
  const out = new Float32Array(head.crops.length * plane); // [3K,R,R]
  head.crops.forEach((c, k) => out.set(maskedCrop(frame, mask, head.objectSize, c).data, k * plane));
  return out;
}
