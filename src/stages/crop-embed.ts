import type { OperatorFunction } from 'rxjs';
import type { ClipVision } from '../models/clip.js';
import { inferInBatches } from '../operators/infer-in-batches.js';
import type { FrameRecord } from '../record.js';
import { maskedCrop, type CropSpec } from '../masks/crop.js';
import { l2normalise } from '../tensor/vector.js';

export interface CropEmbedOptions {
  readonly clipVision: ClipVision;
  readonly crop: CropSpec;
  readonly batch: { readonly maxSize: number; readonly maxWaitMs: number };
}

/**
 * The training-free embedder (the baseline every number is compared with): each object's crop,
 * framed by `crop` (the model set's `cropBaseline`: bundle.json's `crop_baseline`, else the head's
 * masked object window), through the CLIP vision tower. One CLIP forward per object.
 */
export function cropEmbedStage(options: CropEmbedOptions): OperatorFunction<FrameRecord, FrameRecord> {
  const { clipVision, crop } = options;
  return inferInBatches({
    stage: 'embed',
    ...options.batch,
    concurrency: 1,
    run: async (records) => {
      const objs = records.flatMap((r) => (r.objects ?? []).map((o) => ({ r, o })));
      if (objs.length === 0) return;
      const crops = objs.map(({ r, o }) => maskedCrop(r.image!.clipFrame, o.mask, clipVision.imageSize, crop)); // [3,V,V] each
      const out = await clipVision.embed(crops);
      objs.forEach(({ o }, i) => (o.embedding = l2normalise(out[i]!.embeds)));
    },
  });
}
