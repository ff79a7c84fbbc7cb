import { Worker } from 'node:worker_threads';
import { OgclipError } from '../errors.js';
import type { HostReply, HostRequest, TensorMeta } from './inference-host.js';
import type { SessionOptions } from './session-options.js';
import type { Feeds, Outputs } from './tensor.js';

type Pending = { resolve: (r: HostReply & { ok: true }) => void; reject: (e: Error) => void };
type RequestBody = HostRequest extends infer R ? (R extends HostRequest ? Omit<R, 'id'> : never) : never;

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
export class InferenceWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (reply: HostReply) => {
      const p = this.#pending.get(reply.id);
      if (!p) return;
      this.#pending.delete(reply.id);
      if (reply.ok) p.resolve(reply);
      else p.reject(new OgclipError(reply.error));
    });
    worker.on('error', (err) => this.#failAll(err));
    worker.on('exit', (code) => this.#failAll(new OgclipError(`inference worker exited with code ${code}`)));
  }

  static start(): InferenceWorker {
    return new InferenceWorker(new Worker(new URL('./inference-host.js', import.meta.url)));
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

  #request(body: RequestBody): Promise<HostReply & { ok: true }> {
    if (this.#closed) return Promise.reject(new OgclipError('inference worker is closed'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...body, id } as HostRequest);
    });
  }

  #failAll(err: Error): void {
    this.#closed = true;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}
