import type { OperatorFunction } from 'rxjs';
import { stack } from '../models/head.js';
import type { ObjectGuidedHead } from '../models/model-set.js';
import { inferInBatches } from '../operators/infer-in-batches.js';
import type { FrameRecord } from '../record.js';

export interface FusionOptions {
  readonly head: ObjectGuidedHead;
  readonly batch: { readonly maxSize: number; readonly maxWaitMs: number };
}

/** fusion: object + mask + CLIP branch features -> one fused vector per object. */
export function fusionStage(options: FusionOptions): OperatorFunction<FrameRecord, FrameRecord> {
  return inferInBatches({
    stage: 'fusion',
    ...options.batch,
    concurrency: 1,
    run: async (records) => {
      const objs = records.flatMap((r) => r.objects ?? []);
      if (objs.length === 0) return;
      const fused = await options.head.fusion.run({
        object_features: stack(objs.map((o) => o.objectFeatures!)), // [N,Fo]
        mask_features: stack(objs.map((o) => o.maskFeatures!)), // [N,Fm]
        clip_features: stack(objs.map((o) => o.clipFeatures!)), // [N,Dv+E]
      });
      objs.forEach((o, i) => {
        o.fused = fused[i];
        delete o.objectFeatures;
        delete o.maskFeatures;
        delete o.clipFeatures;
      });
    },
  });
}
