import type { OperatorFunction } from 'rxjs';
import type { ClipVision } from '../models/clip.js';
import { inferInBatches, type ModelBatching } from '../operators/infer-in-batches.js';
import { imageOf, objectBase, objectsAt, type EmbeddedObject, type FrameImage, type FrameRecord, type SegmentedObject } from '../record.js';
import { maskedCrop, type CropSpec } from '../masks/crop.js';
import { nonEmptyBox } from '../masks/mask.js';
import { l2normalise } from '../tensor/vector.js';
import { rowsInOrder } from './model-rows.js';

export interface CropEmbedOptions {
  readonly clipVision: ClipVision;
  readonly crop: CropSpec;
  readonly batch: ModelBatching;
}

/**
 * The training-free embedder (the baseline every number is compared with): each object's crop,
 * framed by `crop` (the model set's `cropBaseline`: bundle.json's `crop_baseline`, else the head's
 * masked object window), through the CLIP vision tower. One CLIP forward per object.
 * Reads 'segmented' objects, gives 'embedded' ones (L2-normalised).
 */
export function cropEmbedStage(options: CropEmbedOptions): OperatorFunction<FrameRecord, FrameRecord> {
  const { clipVision, crop } = options;
  return inferInBatches({
    stage: 'embed',
    ...options.batch,
    concurrency: options.batch.concurrency ?? 1,
    run: async (records) => {
      const frames: { r: FrameRecord; image: FrameImage; objects: SegmentedObject[] }[] = [];
      for (const r of records) {
        const objects = objectsAt(r, 'embed', 'segmented');
        if (!objects || objects.length === 0) continue;
        const image = imageOf(r, 'embed');
        if (image) frames.push({ r, image, objects });
      }
      const crops = frames.flatMap(
        ({ image, objects }) => objects.map((o) => maskedCrop(image.clipFrame, o.mask, clipVision.imageSize, crop, nonEmptyBox(o.box))), // [3,V,V] each
      );
      if (crops.length === 0) return;
      const out = await clipVision.embed(crops);
      const next = rowsInOrder(out, crops.length, 'the CLIP vision tower');
      for (const f of frames) {
        f.r.objects = f.objects.map((o): EmbeddedObject => ({
          ...objectBase(o),
          state: 'embedded',
          embedding: l2normalise(next().embeds),
        }));
      }
    },
  });
}
