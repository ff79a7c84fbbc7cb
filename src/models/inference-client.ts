import { Worker } from 'node:worker_threads';
import { OgclipError } from '../errors.js';
import type { TensorMeta, WorkerReply, WorkerRequest } from './inference-protocol.js';
import type { SessionOptions } from './session-options.js';
import type { Feeds, Outputs } from './tensor.js';

type Pending = { resolve: (r: WorkerReply & { ok: true }) => void; reject: (e: Error) => void };
type RequestBody = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

/** A session living in the worker; runs are queued there one at a time. */
export interface RemoteSession {
  readonly path: string;
  readonly inputs: readonly TensorMeta[];
  readonly outputs: readonly TensorMeta[];
  run(feeds: Feeds, outputs: readonly string[]): Promise<Outputs>;
  release(): Promise<void>;
}

/**
 * One worker thread that hosts onnxruntime sessions, so inference never blocks the event
 * loop. Each request is answered in order; a crashed worker fails every pending request.
 */
export class InferenceClient {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (reply: WorkerReply) => {
      const p = this.#pending.get(reply.id);
      if (!p) return;
      this.#pending.delete(reply.id);
      if (reply.ok) p.resolve(reply);
      else p.reject(new OgclipError(reply.error));
    });
    worker.on('error', (err) => this.#failAll(err));
    worker.on('exit', (code) => this.#failAll(new OgclipError(`inference worker exited with code ${code}`)));
  }

  static start(): InferenceClient {
    return new InferenceClient(new Worker(new URL('./inference-worker.js', import.meta.url)));
  }

  /** Requests waiting for the worker (backpressure signal for telemetry). */
  get queued(): number {
    return this.#pending.size;
  }

  async load(path: string, options: SessionOptions): Promise<RemoteSession> {
    const reply = await this.#request({ kind: 'load', path, options });
    const session = reply.session!;
    return {
      path,
      inputs: reply.inputs ?? [],
      outputs: reply.outputs ?? [],
      // Feeds are copied, not transferred: callers reuse them (one frame's SAM embeddings
      // feed several prompt batches). Outputs come back transferred.
      run: async (feeds, outputs) => (await this.#request({ kind: 'run', session, feeds, outputs })).result ?? {},
      release: async () => {
        if (!this.#closed) await this.#request({ kind: 'release', session });
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker.terminate();
  }

  #request(body: RequestBody): Promise<WorkerReply & { ok: true }> {
    if (this.#closed) return Promise.reject(new OgclipError('inference worker is closed'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...body, id } as WorkerRequest);
    });
  }

  #failAll(err: Error): void {
    this.#closed = true;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}
