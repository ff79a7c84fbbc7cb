import type { OperatorFunction } from 'rxjs';
import { stack } from '../models/head.js';
import type { ObjectGuidedHead } from '../models/model-set.js';
import { inferInBatches, type ModelBatching } from '../operators/infer-in-batches.js';
import { objectBase, objectsAt, type EmbeddedObject, type FrameRecord, type FusedObject } from '../record.js';
import { l2normalise } from '../tensor/vector.js';
import { rowsInOrder } from './model-rows.js';

export interface ProjectionOptions {
  readonly head: ObjectGuidedHead;
  readonly batch: ModelBatching;
}

/** projection: fused vector ('fused') -> L2-normalised object embedding in CLIP's text space ('embedded'). */
export function projectionStage(options: ProjectionOptions): OperatorFunction<FrameRecord, FrameRecord> {
  return inferInBatches({
    stage: 'projection',
    ...options.batch,
    concurrency: options.batch.concurrency ?? 1,
    run: async (records) => {
      const frames: { r: FrameRecord; objects: FusedObject[] }[] = [];
      for (const r of records) {
        const objects = objectsAt(r, 'projection', 'fused');
        if (objects && objects.length > 0) frames.push({ r, objects });
      }
      const objs = frames.flatMap((f) => f.objects);
      if (objs.length === 0) return;
      const emb = await options.head.projection.run({ fused: stack(objs.map((o) => o.fused)) }); // [N,E]
      const next = rowsInOrder(emb, objs.length, 'the projection');
      for (const f of frames) {
        f.r.objects = f.objects.map((o): EmbeddedObject => ({ ...objectBase(o), state: 'embedded', embedding: l2normalise(next()) }));
      }
    },
  });
}
