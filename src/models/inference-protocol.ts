// Messages between InferenceClient (main thread) and inference-worker.ts (the worker thread).
import type { SessionOptions } from './session-options.js';
import type { Feeds, Outputs } from './tensor.js';

export type WorkerRequest =
  | { readonly kind: 'load'; readonly id: number; readonly path: string; readonly options: SessionOptions }
  | { readonly kind: 'run'; readonly id: number; readonly session: number; readonly feeds: Feeds; readonly outputs: readonly string[] }
  | { readonly kind: 'release'; readonly id: number; readonly session: number };

export interface TensorMeta {
  readonly name: string;
  readonly type: string;
  readonly shape: readonly (number | string)[];
}

export type WorkerReply =
  | {
      readonly id: number;
      readonly ok: true;
      readonly session?: number;
      readonly inputs?: TensorMeta[];
      readonly outputs?: TensorMeta[];
      readonly result?: Outputs;
    }
  | { readonly id: number; readonly ok: false; readonly error: string };
