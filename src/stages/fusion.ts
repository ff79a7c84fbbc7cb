import type { OperatorFunction } from 'rxjs';
import { stack } from '../models/head.js';
import type { ObjectGuidedHead } from '../models/model-set.js';
import { inferInBatches, type ModelBatching } from '../operators/infer-in-batches.js';
import { objectBase, objectsAt, type BranchedObject, type FrameRecord, type FusedObject } from '../record.js';
import { rowsInOrder } from './model-rows.js';

export interface FusionOptions {
  readonly head: ObjectGuidedHead;
  readonly batch: ModelBatching;
}

/** fusion: object + mask + CLIP branch features ('branched') -> one fused vector per object ('fused'). */
export function fusionStage(options: FusionOptions): OperatorFunction<FrameRecord, FrameRecord> {
  return inferInBatches({
    stage: 'fusion',
    ...options.batch,
    concurrency: options.batch.concurrency ?? 1,
    run: async (records) => {
      const frames: { r: FrameRecord; objects: BranchedObject[] }[] = [];
      for (const r of records) {
        const objects = objectsAt(r, 'fusion', 'branched');
        if (objects && objects.length > 0) frames.push({ r, objects });
      }
      const objs = frames.flatMap((f) => f.objects);
      if (objs.length === 0) return;
      const fused = await options.head.fusion.run({
        object_features: stack(objs.map((o) => o.objectFeatures)), // [N,Fo]
        mask_features: stack(objs.map((o) => o.maskFeatures)), // [N,Fm]
        clip_features: stack(objs.map((o) => o.clipFeatures)), // [N,Dv+E]
      });
      const next = rowsInOrder(fused, objs.length, 'the fusion');
      for (const f of frames) f.r.objects = f.objects.map((o): FusedObject => ({ ...objectBase(o), state: 'fused', fused: next() }));
    },
  });
}
