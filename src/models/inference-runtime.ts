import type { RemoteSession, RuntimeStatus } from './inference-client.js';
import type { SessionOptions } from './session-options.js';

/**
 * What the model stages need of the inference runtime: one supervised worker (InferenceClient)
 * or a pool of them (InferencePool).
 */
export interface InferenceRuntime {
  /** Workers serving requests. */
  readonly size: number;
  readonly status: RuntimeStatus;
  readonly restarts: number;
  readonly queued: number;
  readonly postedBytes: number;
  readonly keptHandles: number;
  onStatus(listener: (s: RuntimeStatus, why?: string) => void): () => void;
  load(path: string, options: SessionOptions): Promise<RemoteSession>;
  /**
   * Runs `work` once per worker, one after the other, its runs (those not fed kept tensors,
   * which stay with their worker) all sent to that worker: a warm-up that must reach every one.
   */
  onEachWorker(work: () => Promise<void>): Promise<void>;
  /**
   * Gives output buffers the caller is done with back to a worker, which fills them with later
   * outputs of the same size: the main thread's heap then sees the same buffers again instead of
   * a new allocation per run. The arrays and every view of their buffers are unusable afterwards.
   */
  recycle(arrays: readonly ArrayBufferView[]): void;
  close(): Promise<void>;
}
