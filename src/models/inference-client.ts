import { Worker } from 'node:worker_threads';
import { OgclipError, RunFailedError } from '../errors.js';
import type { TensorMeta, WorkerReply, WorkerRequest } from './inference-protocol.js';
import type { SessionOptions } from './session-options.js';
import type { Feeds, Outputs } from './tensor.js';

/** A session living in the worker; runs are queued there one at a time. */
export interface RemoteSession {
  readonly path: string;
  readonly inputs: readonly TensorMeta[];
  readonly outputs: readonly TensorMeta[];
  run(feeds: Feeds, outputs: readonly string[]): Promise<Outputs>;
  release(): Promise<void>;
}

/**
 * The inference runtime itself is gone: its worker died or hung more times in a row than
 * allowed. Not a problem of one frame: a stage that sees it ends the run (nothing unfinished is
 * committed) instead of turning frames into dead letters.
 */
export class InferenceRuntimeError extends RunFailedError {}

/** running: serving; restarting: a new worker is loading the sessions again; failed: given up. */
export type RuntimeStatus = 'running' | 'restarting' | 'failed';

export interface SupervisionOptions {
  /** A request still unanswered after this long means the worker hangs: it is terminated and restarted. */
  readonly requestTimeoutMs: number;
  /** Worker deaths in a row, with no request answered in between, before the runtime fails. */
  readonly maxConsecutiveRestarts: number;
  /** The worker's script; tests give one that crashes or hangs on cue. */
  readonly workerUrl?: URL;
  readonly workerData?: unknown;
}

export const defaultSupervision: SupervisionOptions = { requestTimeoutMs: 120_000, maxConsecutiveRestarts: 3 };

type Body =
  { kind: 'load'; path: string; options: SessionOptions } | { kind: 'run'; session: number; feeds: Feeds; outputs: readonly string[] };
type Ok = WorkerReply & { ok: true };

interface Request {
  readonly id: number;
  readonly body: Body;
  readonly resolve: (r: Ok) => void;
  readonly reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  why?: string; // why the worker died running it alone
}

/**
 * The main-thread side of the inference worker (inference-worker.ts), which hosts the
 * onnxruntime sessions so that inference never blocks the event loop. It supervises it: a worker
 * that exits or hangs (a request older than `requestTimeoutMs`) is replaced, its sessions are
 * loaded again, and the requests it held are sent again, one at a time, so that a request that
 * kills the worker by itself is found: it alone fails (its frame becomes a dead letter) and the
 * others go through. After `maxConsecutiveRestarts` deaths with nothing answered in between,
 * every request fails with InferenceRuntimeError.
 */
export class InferenceClient {
  readonly #options: SupervisionOptions;
  #worker: Worker;
  /** Client session id -> what loaded it and its id in the current worker. */
  readonly #sessions = new Map<number, { path: string; options: SessionOptions; inWorker: number }>();
  /** Sent to the current worker, by request id. */
  readonly #inFlight = new Map<number, Request>();
  /** Waiting to be sent: while a worker restarts, and the suspects of a death during recovery. */
  #waiting: Request[] = [];
  /** Requests the last worker held when it died; sent alone until none is left. */
  #suspects: Request[] = [];
  /** The suspect sent alone to the new worker: if the worker dies now, this request did it. */
  #replaying: Request | undefined;
  /**
   * Requests the worker died on twice, the second time alone. They fail as bad input once the
   * runtime shows it works without them (the next answer, or nothing else to do); if it fails
   * instead, they fail with it and stay uncommitted: they were not proven guilty.
   */
  #blamed: Request[] = [];
  #hung: string | undefined;
  #status: RuntimeStatus = 'running';
  #consecutiveDeaths = 0;
  #restarts = 0;
  #nextId = 1;
  #nextSession = 1;
  #closed = false;
  readonly #listeners = new Set<(s: RuntimeStatus, why?: string) => void>();

  private constructor(options: SupervisionOptions) {
    this.#options = options;
    this.#worker = this.#spawn();
  }

  static start(options: Partial<SupervisionOptions> = {}): InferenceClient {
    return new InferenceClient({ ...defaultSupervision, ...options });
  }

  /** Requests not yet answered (backpressure signal for telemetry). */
  get queued(): number {
    return this.#inFlight.size + this.#waiting.length + this.#suspects.length;
  }

  get status(): RuntimeStatus {
    return this.#status;
  }

  /** Workers started after the first one. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Called on every status change, with the reason for a restart or a failure. */
  onStatus(listener: (s: RuntimeStatus, why?: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async load(path: string, options: SessionOptions): Promise<RemoteSession> {
    const reply = await this.#request({ kind: 'load', path, options });
    const session = this.#nextSession++;
    this.#sessions.set(session, { path, options, inWorker: reply.session ?? -1 });
    return {
      path,
      inputs: reply.inputs ?? [],
      outputs: reply.outputs ?? [],
      // Feeds are copied, not transferred: callers reuse them (one frame's SAM embeddings
      // feed several prompt batches), and a request may have to be sent again. Outputs come
      // back transferred.
      run: async (feeds, outputs) => (await this.#request({ kind: 'run', session, feeds, outputs })).result ?? {},
      release: async () => {
        const held = this.#sessions.get(session);
        this.#sessions.delete(session);
        if (held && !this.#closed && this.#status === 'running') {
          this.#worker.postMessage({ kind: 'release', id: 0, session: held.inWorker } satisfies WorkerRequest);
        }
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#failAll(new OgclipError('inference worker is closed'));
    await this.#worker.terminate();
  }

  #spawn(): Worker {
    const w = new Worker(this.#options.workerUrl ?? new URL('./inference-worker.js', import.meta.url), {
      workerData: this.#options.workerData,
    });
    w.on('message', (reply: WorkerReply) => this.#onReply(w, reply));
    // 'error' (an uncaught exception in the worker) is followed by 'exit'; the restart happens there.
    w.on('error', () => {});
    w.on('exit', (code) => this.#onExit(w, `inference worker exited with code ${code}`));
    return w;
  }

  #request(body: Body): Promise<Ok> {
    if (this.#closed) return Promise.reject(new OgclipError('inference worker is closed'));
    if (this.#status === 'failed') return Promise.reject(new InferenceRuntimeError('the inference runtime has failed'));
    return new Promise((resolve, reject) => {
      const r: Request = { id: this.#nextId++, body, resolve, reject };
      if (this.#status === 'running' && !this.#replaying && this.#suspects.length === 0) this.#send(r);
      else this.#waiting.push(r);
    });
  }

  #send(r: Request): void {
    let msg: WorkerRequest;
    if (r.body.kind === 'run') {
      const held = this.#sessions.get(r.body.session);
      if (!held) return r.reject(new OgclipError(`session ${r.body.session} was released`));
      msg = { kind: 'run', id: r.id, session: held.inWorker, feeds: r.body.feeds, outputs: r.body.outputs };
    } else {
      msg = { kind: 'load', id: r.id, path: r.body.path, options: r.body.options };
    }
    this.#inFlight.set(r.id, r);
    const worker = this.#worker;
    r.timer = setTimeout(() => {
      if (worker !== this.#worker) return;
      // A hung worker cannot answer anything; terminating it leads to the restart in #onExit.
      this.#hung = `inference worker did not answer within ${this.#options.requestTimeoutMs} ms (requestTimeoutMs)`;
      void worker.terminate();
    }, this.#options.requestTimeoutMs);
    worker.postMessage(msg);
  }

  #onReply(from: Worker, reply: WorkerReply): void {
    if (from !== this.#worker) return;
    const r = this.#inFlight.get(reply.id);
    if (!r) return;
    this.#inFlight.delete(reply.id);
    clearTimeout(r.timer);
    if (r === this.#replaying) this.#replaying = undefined;
    if (reply.ok) {
      this.#consecutiveDeaths = 0;
      this.#convictBlamed();
      r.resolve(reply);
    } else {
      r.reject(new OgclipError(reply.error));
    }
    this.#pump();
  }

  /** Sends what may go now: the next suspect alone while recovering, else everything waiting. */
  #pump(): void {
    if (this.#status !== 'running' || this.#closed || this.#replaying) return;
    const suspect = this.#suspects.shift();
    if (suspect) {
      this.#replaying = suspect;
      this.#send(suspect);
      return;
    }
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const r of waiting) this.#send(r);
    if (this.#inFlight.size === 0) this.#convictBlamed(); // nothing else will tell
  }

  #convictBlamed(): void {
    const blamed = this.#blamed;
    this.#blamed = [];
    for (const r of blamed)
      r.reject(new OgclipError(`the inference worker died twice running this request, the second time alone (${r.why})`));
  }

  #onExit(from: Worker, exitReason: string): void {
    if (from !== this.#worker || this.#closed) return;
    const why = this.#hung ?? exitReason;
    this.#hung = undefined;
    const held = [...this.#inFlight.values()].sort((a, b) => a.id - b.id);
    this.#inFlight.clear();
    for (const r of held) clearTimeout(r.timer);
    const culprit = this.#replaying;
    this.#replaying = undefined;
    // Sent alone after a death, and the worker died again: this request did it, twice, unless
    // the worker dies on everything (then the runtime fails below, and the request with it).
    if (culprit) {
      culprit.why = why;
      this.#blamed.push(culprit);
    }
    this.#suspects = [...held.filter((r) => r !== culprit), ...this.#suspects];
    this.#consecutiveDeaths++;
    if (this.#consecutiveDeaths > this.#options.maxConsecutiveRestarts) {
      this.#setStatus(
        'failed',
        `${why}; ${this.#consecutiveDeaths} worker deaths in a row (maxConsecutiveRestarts ${this.#options.maxConsecutiveRestarts})`,
      );
      this.#failAll(new InferenceRuntimeError(`the inference runtime failed: ${why}, ${this.#consecutiveDeaths} times in a row`));
      return;
    }
    this.#setStatus('restarting', why);
    void this.#restart(why);
  }

  async #restart(why: string): Promise<void> {
    this.#restarts++;
    const worker = this.#spawn();
    this.#worker = worker;
    try {
      for (const [, s] of this.#sessions) {
        s.inWorker = await this.#loadInto(worker, s.path, s.options);
      }
    } catch (err) {
      if (worker !== this.#worker || this.#closed) return; // it died while loading: #onExit handles it
      this.#setStatus('failed', `${why}; the restarted worker could not load the models: ${(err as Error).message}`);
      this.#failAll(
        new InferenceRuntimeError(
          `the inference runtime failed: the restarted worker could not load the models (${(err as Error).message})`,
        ),
      );
      return;
    }
    if (worker !== this.#worker || this.#closed) return;
    this.#setStatus('running');
    this.#pump();
  }

  /** A load sent outside the request queue, while restarting; its reply is matched here. */
  #loadInto(worker: Worker, path: string, options: SessionOptions): Promise<number> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#hung = `inference worker did not load ${path} within ${this.#options.requestTimeoutMs} ms`;
        void worker.terminate();
      }, this.#options.requestTimeoutMs);
      const onMessage = (reply: WorkerReply) => {
        if (reply.id !== id) return;
        cleanup();
        if (reply.ok && reply.session !== undefined) resolve(reply.session);
        else reject(new OgclipError(reply.ok ? `${path}: no session` : reply.error));
      };
      const onExit = () => {
        cleanup();
        reject(new OgclipError('worker exited while loading'));
      };
      const cleanup = () => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('exit', onExit);
      worker.postMessage({ kind: 'load', id, path, options } satisfies WorkerRequest);
    });
  }

  #setStatus(s: RuntimeStatus, why?: string): void {
    this.#status = s;
    for (const l of this.#listeners) l(s, why);
  }

  #failAll(err: Error): void {
    const all = [...this.#inFlight.values(), ...this.#suspects, ...this.#waiting, ...this.#blamed];
    this.#blamed = [];
    this.#inFlight.clear();
    this.#suspects = [];
    this.#waiting = [];
    for (const r of all) {
      clearTimeout(r.timer);
      r.reject(err);
    }
  }
}
