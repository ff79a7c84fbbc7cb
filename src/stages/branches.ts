import type { OperatorFunction } from 'rxjs';
import type { ClipVision } from '../models/clip.js';
import { stack } from '../models/head.js';
import type { ObjectGuidedHead } from '../models/model-set.js';
import { inferInBatches, type ModelBatching } from '../operators/infer-in-batches.js';
import { imageOf, objectBase, objectsAt, type BranchedObject, type FrameImage, type FrameRecord, type SegmentedObject } from '../record.js';
import { nonEmptyBox, type Box, type Mask } from '../masks/mask.js';
import { maskInput, maskedCrop, poolTokens } from '../masks/crop.js';
import type { Planes } from '../tensor/image.js';
import { rowsInOrder } from './model-rows.js';

export interface BranchesOptions {
  readonly head: ObjectGuidedHead;
  readonly clipVision: ClipVision;
  readonly batch: ModelBatching;
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
    concurrency: options.batch.concurrency ?? 1,
    run: async (records) => {
      const frames: { r: FrameRecord; image: FrameImage; objects: SegmentedObject[] }[] = [];
      for (const r of records) {
        const objects = objectsAt(r, 'branches', 'segmented');
        if (!objects || objects.length === 0) continue; // no objects: nothing to compute, [] stays
        const image = imageOf(r, 'branches');
        if (image) frames.push({ r, image, objects });
      }
      if (frames.length === 0) return;
      const vision = await clipVision.embed(frames.map((f) => f.image.clipInput)); // once per frame
      const nextVision = rowsInOrder(vision, frames.length, 'the CLIP vision tower');
      const pixels: Float32Array[] = [];
      const masks: Float32Array[] = [];
      const clipFeatures: Float32Array[] = [];
      for (const { image, objects } of frames) {
        const v = nextVision();
        for (const o of objects) {
          const box = nonEmptyBox(o.box); // the mask's tight box, from the sam2 stage: nothing here scans the frame
          pixels.push(objectCrops(image.clipFrame, o.mask, head, box)); // [3K,R,R]
          masks.push(maskInput(o.mask, head.maskSize, box).data); // [1,M,M]
          clipFeatures.push(poolTokens(v.hidden, v.tokens, v.dim, v.embeds, o.mask, box)); // [Dv+E]
        }
      }
      const n = pixels.length;
      const px = stack(pixels);
      const mk = stack(masks);
      const [objectFeatures, maskFeatures] = await Promise.all([
        head.objectBranch.run({
          object_pixels: { dims: [n, 3 * head.crops.length, head.objectSize, head.objectSize], data: px.data },
        }),
        head.maskBranch.run({ object_mask: { dims: [n, 1, head.maskSize, head.maskSize], data: mk.data } }),
      ]);
      const nextObject = rowsInOrder(objectFeatures, n, 'the object branch');
      const nextMask = rowsInOrder(maskFeatures, n, 'the mask branch');
      const nextClip = rowsInOrder(clipFeatures, n, 'the CLIP token pooling');
      for (const f of frames) {
        f.r.objects = f.objects.map((o): BranchedObject => ({
          ...objectBase(o),
          state: 'branched',
          objectFeatures: nextObject(),
          maskFeatures: nextMask(),
          clipFeatures: nextClip(),
        }));
      }
    },
  });
}

/** The object's masked crops at every scale of the head, concatenated on the channel axis; `box`: the mask's, found once. */
function objectCrops(frame: Planes, mask: Mask, head: ObjectGuidedHead, box: Box | undefined): Float32Array {
  const [first] = head.crops;
  if (first && head.crops.length === 1) return maskedCrop(frame, mask, head.objectSize, first, box).data;
  const plane = 3 * head.objectSize * head.objectSize;
  const out = new Float32Array(head.crops.length * plane); // [3K,R,R]
  head.crops.forEach((c, k) => out.set(maskedCrop(frame, mask, head.objectSize, c, box).data, k * plane));
  return out;
}
