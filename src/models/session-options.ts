import type { BatchShapes } from './batch-shapes.js';

/** Execution providers a topology may ask for; CUDA needs onnxruntime-node's CUDA files. */
export type ExecutionProvider = 'cpu' | { readonly name: 'cuda'; readonly deviceId?: number };

/** Options of every onnxruntime session a bundle opens (see the topology reference). */
export interface SessionOptions {
  readonly executionProviders: readonly ExecutionProvider[];
  readonly intraOpNumThreads: number; // 0: onnxruntime's default (one per core)
  readonly interOpNumThreads: number;
  readonly graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  readonly enableCpuMemArena: boolean;
  /**
   * Let onnxruntime's intra-op threads busy-wait for work after a run. Off by default: every
   * session owns its thread pool, and the pipeline runs several sessions in turn on the same
   * cores as the event loop, so a pool still spinning after its run takes the cores from the
   * next session's run (a demo frame's decoder calls ran about twice as slowly with it on).
   */
  readonly spinning: boolean;
  /** How the adapters size their calls' batch axis (`batch-shapes.ts`). */
  readonly batchShapes: BatchShapes;
}

export const defaultSessionOptions: SessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 0,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  enableCpuMemArena: true,
  spinning: false,
  batchShapes: 'powers-of-two',
};

/** onnxruntime session config entries (`extra`) for these options. */
export function sessionConfigEntries(o: SessionOptions): Record<string, unknown> {
  const spin = o.spinning ? '1' : '0';
  return { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } };
}
