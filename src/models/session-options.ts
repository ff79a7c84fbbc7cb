/** Execution providers a topology may ask for; CUDA needs onnxruntime-node's CUDA files. */
export type ExecutionProvider = 'cpu' | { readonly name: 'cuda'; readonly deviceId?: number };

/** Options of every onnxruntime session a bundle opens (see the topology reference). */
export interface SessionOptions {
  readonly executionProviders: readonly ExecutionProvider[];
  readonly intraOpNumThreads: number; // 0: onnxruntime's default (one per core)
  readonly interOpNumThreads: number;
  readonly graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  readonly enableCpuMemArena: boolean;
}

export const defaultSessionOptions: SessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 0,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  enableCpuMemArena: true,
};
