import type { OperatorFunction } from 'rxjs';
import { requireHead, type ModelSet } from '../models/model-set.js';
import type { FrameRecord } from '../record.js';
import { branchesStage } from '../stages/branches.js';
import { cropEmbedStage } from '../stages/crop-embed.js';
import { fusionStage } from '../stages/fusion.js';
import { projectionStage } from '../stages/projection.js';
import type { Topology } from './topology.js';

export type EmbedderKind = Topology['embedder'];

/**
 * An embedder: the stages between sam2 (objects with masks) and similarity (objects with
 * embeddings in CLIP's text space), and the logit scale of that space.
 */
export interface EmbedderComponent<K extends EmbedderKind> {
  readonly kind: K;
  logitScale(models: ModelSet): number;
  stages(models: ModelSet, batch: Topology['batching']): OperatorFunction<FrameRecord, FrameRecord>[];
}

/** The trained head: CLIP / object / mask branches -> fusion -> projection. */
export const objectGuidedEmbedder: EmbedderComponent<'object-guided'> = {
  kind: 'object-guided',
  logitScale: (models) => models.bundle.manifest.head?.logit_scale ?? 100,
  stages(models, batch) {
    const head = requireHead(models);
    return [branchesStage({ head, clipVision: models.clipVision, batch }), fusionStage({ head, batch }), projectionStage({ head, batch })];
  },
};

/** The training-free baseline: each object's masked crop through the CLIP vision tower. */
export const cropEmbedder: EmbedderComponent<'crop'> = {
  kind: 'crop',
  logitScale: (models) => models.bundle.manifest.clip.logit_scale ?? 100,
  stages: (models, batch) => [cropEmbedStage({ clipVision: models.clipVision, crop: models.cropBaseline, batch })],
};
