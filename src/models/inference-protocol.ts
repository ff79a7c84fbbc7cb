// Messages between InferenceClient (main thread) and inference-worker.ts (the worker thread).
import type { SessionOptions } from './session-options.js';
import type { Outputs, RunFeeds, TensorInfo } from './tensor.js';

/**
 * Outputs a run keeps in the worker under handles named by the client, instead of sending them
 * back. Without `perItem`, the outputs as they are, under `handles[0]`. With `perItem`, item i
 * of axis 0 of every kept output (dims [1, ...], a view of the batch output, not a copy) under
 * `handles[i]`: one handle per frame of a batched encoder run, each released on its own. A null
 * handle keeps nothing for that item (a batch run again after a restart for the frames still
 * held). Every kept output must have `handles.length` items on axis 0.
 */
export interface KeepRequest {
  readonly outputs: readonly string[];
  readonly handles: readonly (number | null)[];
  readonly perItem: boolean;
}

export type WorkerRequest =
  | { readonly kind: 'load'; readonly id: number; readonly path: string; readonly options: SessionOptions }
  | {
      readonly kind: 'run';
      readonly id: number;
      readonly session: number;
      /** Values, or references ({ type: 'kept' }) to outputs kept by earlier runs. */
      readonly feeds: RunFeeds;
      /** Outputs sent back. */
      readonly outputs: readonly string[];
      readonly keep?: KeepRequest;
    }
  /** Copies kept outputs back (tests, debugging); the handle stays. */
  | { readonly kind: 'read'; readonly id: number; readonly handle: number; readonly outputs: readonly string[] }
  /**
   * Output buffers the client is done with, transferred back to be filled with later outputs of
   * the same size. Not answered (id 0).
   */
  | { readonly kind: 'recycle'; readonly id: number; readonly buffers: readonly ArrayBuffer[] }
  /** Frees kept outputs; unknown handles are ignored. Not answered (id 0). */
  | { readonly kind: 'drop'; readonly id: number; readonly handles: readonly number[] }
  | { readonly kind: 'release'; readonly id: number; readonly session: number }
  /** Finish what is running, release every session, and end the thread (no reply). */
  | { readonly kind: 'close'; readonly id: number };

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
      /** For a run that kept outputs: each one's type and dims as one handle holds it. */
      readonly kept?: Record<string, TensorInfo>;
    }
  | { readonly id: number; readonly ok: false; readonly error: string };
