import type { OperatorFunction } from 'rxjs';
import { stack } from '../models/head.js';
import type { ObjectGuidedHead } from '../models/model-set.js';
import { inferInBatches } from '../operators/infer-in-batches.js';
import type { FrameRecord } from '../record.js';
import { l2normalise } from '../tensor/vector.js';

export interface ProjectionOptions {
  readonly head: ObjectGuidedHead;
  readonly batch: { readonly maxSize: number; readonly maxWaitMs: number };
}

/** projection: fused vector -> L2-normalised object embedding in CLIP's text space. */
export function projectionStage(options: ProjectionOptions): OperatorFunction<FrameRecord, FrameRecord> {
  return inferInBatches({
    stage: 'projection',
    ...options.batch,
    concurrency: 1,
    run: async (records) => {
      const objs = records.flatMap((r) => r.objects ?? []);
      if (objs.length === 0) return;
      const emb = await options.head.projection.run({ fused: stack(objs.map((o) => o.fused!)) }); // [N,E]
      objs.forEach((o, i) => {
        o.embedding = l2normalise(emb[i]!);
        delete o.fused;
      });
    },
  });
}
