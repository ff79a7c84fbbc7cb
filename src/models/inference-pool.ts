import { availableParallelism } from 'node:os';
import { ConfigError } from '../errors.js';
import { InferenceClient, type RemoteSession, type RuntimeStatus, type SupervisionOptions, type TensorHandle } from './inference-client.js';
import type { InferenceRuntime } from './inference-runtime.js';
import type { SessionOptions } from './session-options.js';
import type { RunFeeds } from './tensor.js';

/**
 * Workers for a topology's `runtime.workers` (default 1): 0 means one per group of
 * `intraOpNumThreads` cores of the machine (one when that is 0, onnxruntime's all cores). Not
 * the default: in a container the machine's cores are the node's, not the pod's.
 */
export function poolSize(workers: number, intraOpNumThreads: number, cores = availableParallelism()): number {
  if (!(Number.isInteger(workers) && workers >= 0)) throw new ConfigError(`runtime.workers must be an integer >= 0, got ${workers}`);
  if (workers > 0) return workers;
  const threads = intraOpNumThreads > 0 ? intraOpNumThreads : cores;
  return Math.max(1, Math.floor(cores / threads));
}

/**
 * Several inference workers, each an InferenceClient with its own sessions and supervision,
 * behind one runtime. Every session is loaded on every worker. A run goes to the worker with the
 * fewest unanswered requests, except a run fed kept tensors (a frame's SAM2 embeddings), which
 * goes to the worker that holds them: handle ids are interleaved across workers (worker i of n
 * numbers its handles i+1, i+1+n, ...), so a handle names its worker. Each worker restarts on
 * its own; the pool is `failed` when any of its workers has failed (that worker's requests fail
 * with InferenceRuntimeError, which ends the run), `restarting` while any restarts.
 */
export class InferencePool implements InferenceRuntime {
  readonly #clients: readonly InferenceClient[];
  readonly #listeners = new Set<(s: RuntimeStatus, why?: string) => void>();
  #status: RuntimeStatus = 'running';
  #turn = 0;
  #recycleTurn = 0;
  /** Which worker sent each output buffer back (for `recycle`). */
  readonly #origin = new WeakMap<ArrayBufferLike, number>();
  /** The worker every run not fed kept tensors goes to, during onEachWorker. */
  #pinned: number | undefined;

  private constructor(clients: readonly InferenceClient[]) {
    this.#clients = clients;
    for (const c of clients) {
      // Listeners hear the pool's status when it changes, with the reason of the worker that
      // changed it; `failed` is final, so the reason of the failure stays on the health endpoint.
      c.onStatus((_, why) => {
        const next = this.status;
        if (this.#status === 'failed' || next === this.#status) return;
        this.#status = next;
        for (const l of this.#listeners) l(next, why);
      });
    }
  }

  static start(size: number, options: Partial<SupervisionOptions> = {}): InferencePool {
    if (!(Number.isInteger(size) && size >= 1)) throw new ConfigError(`an inference pool needs at least one worker, got ${size}`);
    return new InferencePool(
      Array.from({ length: size }, (_, i) => InferenceClient.start({ ...options, handleIds: { first: i + 1, step: size } })),
    );
  }

  get size(): number {
    return this.#clients.length;
  }

  get status(): RuntimeStatus {
    const all = this.#clients.map((c) => c.status);
    return all.includes('failed') ? 'failed' : all.includes('restarting') ? 'restarting' : 'running';
  }

  get restarts(): number {
    return this.#clients.reduce((n, c) => n + c.restarts, 0);
  }

  get queued(): number {
    return this.#clients.reduce((n, c) => n + c.queued, 0);
  }

  get postedBytes(): number {
    return this.#clients.reduce((n, c) => n + c.postedBytes, 0);
  }

  get keptHandles(): number {
    return this.#clients.reduce((n, c) => n + c.keptHandles, 0);
  }

  /** Model runs each worker has answered: how the work spread (tests, telemetry). */
  get runsPerWorker(): number[] {
    return this.#clients.map((c) => c.runs);
  }

  onStatus(listener: (s: RuntimeStatus, why?: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async load(path: string, options: SessionOptions): Promise<RemoteSession> {
    const settled = await Promise.allSettled(this.#clients.map((c) => c.load(path, options)));
    const sessions = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.allSettled(sessions.map((s) => s.release()));
      throw failed.reason;
    }
    const pick = (feeds: RunFeeds) => sessions[this.#workerFor(feeds)]!;
    const first = sessions[0]!;
    return {
      path,
      inputs: first.inputs,
      outputs: first.outputs,
      run: async (feeds, outputs) => {
        const worker = this.#workerFor(feeds);
        const out = await sessions[worker]!.run(feeds, outputs);
        for (const t of Object.values(out)) this.#origin.set(t.data.buffer, worker);
        return out;
      },
      runKeeping: (feeds, keep, items): Promise<TensorHandle[]> => pick(feeds).runKeeping(feeds, keep, items),
      release: async () => void (await Promise.allSettled(sessions.map((s) => s.release()))),
    };
  }

  /** Each buffer goes back to the worker whose output it was (which runs that model's next calls), else to the workers in turn. */
  recycle(arrays: readonly ArrayBufferView[]): void {
    const byWorker = new Map<number, ArrayBufferView[]>();
    for (const a of arrays) {
      const i = this.#origin.get(a.buffer) ?? this.#recycleTurn++ % this.#clients.length;
      byWorker.set(i, [...(byWorker.get(i) ?? []), a]);
    }
    for (const [i, views] of byWorker) this.#clients[i]!.recycle(views);
  }

  async onEachWorker(work: () => Promise<void>): Promise<void> {
    for (let i = 0; i < this.#clients.length; i++) {
      this.#pinned = i;
      try {
        await work();
      } finally {
        this.#pinned = undefined;
      }
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#clients.map((c) => c.close()));
  }

  /** The worker holding the kept tensors the feeds reference, else the least busy one. */
  #workerFor(feeds: RunFeeds): number {
    const n = this.#clients.length;
    for (const f of Object.values(feeds)) if (f.type === 'kept') return (f.handle - 1) % n;
    if (this.#pinned !== undefined) return this.#pinned;
    let best = -1;
    // Round-robin among the least busy, so that idle workers take turns.
    for (let k = 0; k < n; k++) {
      const i = (this.#turn + k) % n;
      if (best < 0 || this.#clients[i]!.queued < this.#clients[best]!.queued) best = i;
    }
    this.#turn = (best + 1) % n;
    return best;
  }
}
