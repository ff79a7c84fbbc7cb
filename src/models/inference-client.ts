import { Worker } from 'node:worker_threads';
import { OgclipError, RunFailedError } from '../errors.js';
import type { TensorMeta, WorkerReply, WorkerRequest } from './inference-protocol.js';
import type { SessionOptions } from './session-options.js';
import type { KeptTensor, Outputs, RunFeeds, TensorInfo } from './tensor.js';

/** A session living in the worker; runs are queued there one at a time. */
export interface RemoteSession {
  readonly path: string;
  readonly inputs: readonly TensorMeta[];
  readonly outputs: readonly TensorMeta[];
  run(feeds: RunFeeds, outputs: readonly string[]): Promise<Outputs>;
  /**
   * Runs and keeps the outputs `keep` in the worker instead of sending them back. Without
   * `items`, one handle holds them; with `items`, the outputs have that many items on axis 0
   * (a batch) and handle i holds item i of each, so that each is fed and dropped on its own.
   * The feeds are remembered, not copied, while a handle lives (to make it again on a new
   * worker): they must not be changed until every handle is dropped.
   */
  runKeeping(feeds: RunFeeds, keep: readonly string[], items?: number): Promise<TensorHandle[]>;
  release(): Promise<void>;
}

/**
 * Outputs a run kept in the inference worker. Later runs are fed them by reference (`feed`), so
 * that their values do not cross the thread boundary again. Survives a worker restart: the run
 * that made it is run again on the new worker. Drop it once it is no longer needed.
 */
export interface TensorHandle {
  /** Each kept output's type and dims (one item's with `items`: dims[0] is 1); the values stay in the worker. */
  readonly outputs: Readonly<Record<string, TensorInfo>>;
  /** A feed referencing the kept output `name`. */
  feed(name: string): KeptTensor;
  /** Copies kept outputs back from the worker (tests, debugging); the handle stays. */
  read(names?: readonly string[]): Promise<Outputs>;
  /** Frees the outputs in the worker and the run remembered to make them again; idempotent. */
  drop(): void;
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

/**
 * Numbers for kept-tensor handles: first, first + step, ... A pool of n workers gives worker i
 * the ids i+1 (step n), so that a handle's id says which worker holds it.
 */
export interface HandleIds {
  readonly first: number;
  readonly step: number;
}

interface Keep {
  readonly outputs: readonly string[];
  readonly handles: readonly number[]; // client-named: the worker keeps them under these ids
  readonly perItem: boolean;
}

type Body =
  | { kind: 'load'; path: string; options: SessionOptions }
  | { kind: 'run'; session: number; feeds: RunFeeds; outputs: readonly string[]; keep?: Keep }
  | { kind: 'read'; handle: number; outputs: readonly string[] };
type Ok = WorkerReply & { ok: true };

/**
 * A live handle: the run that made it (its session by client id, its feeds, what it kept), to
 * run again on a restarted worker; or why that is no longer possible. One recipe serves every
 * handle of a batch run and is forgotten with the last of them.
 */
type Held = { readonly recipe: Body & { kind: 'run'; keep: Keep } } | { readonly lost: string };

/** The handles whose kept tensors feeds reference. */
function keptIn(feeds: RunFeeds): number[] {
  return Object.values(feeds).flatMap((f) => (f.type === 'kept' ? [f.handle] : []));
}

/** Bytes a message's tensors copy to the worker: a typed array is cloned with its whole buffer (a view too). */
function postedBytesOf(feeds: RunFeeds): number {
  const buffers = new Set<ArrayBufferLike>();
  for (const f of Object.values(feeds)) if (f.type !== 'kept') buffers.add(f.data.buffer);
  let n = 0;
  for (const b of buffers) n += b.byteLength;
  return n;
}

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
 *
 * Outputs kept in the worker (RemoteSession.runKeeping) die with it. For each live handle the
 * client remembers the run that made it, runs those again on the new worker (in the order they
 * were made, after loading the sessions and before sending the held requests again) under the
 * same handle ids, so references stay valid. A handle that cannot be made again (its session was
 * released, or the run now fails) fails the requests that reference it, naming why.
 */
export class InferenceClient {
  readonly #options: SupervisionOptions;
  #worker: Worker;
  /** Workers whose thread has ended (a close must not wait for them). */
  readonly #exited = new WeakSet<Worker>();
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
  /** Live kept handles (client ids, which are also the worker's), in the order they were made. */
  readonly #handles = new Map<number, Held>();
  #nextHandle: number;
  readonly #handleStep: number;
  #postedBytes = 0;
  #runs = 0;
  #nextId = 1;
  #nextSession = 1;
  #closed = false;
  readonly #listeners = new Set<(s: RuntimeStatus, why?: string) => void>();

  private constructor(options: SupervisionOptions, handleIds: HandleIds) {
    this.#options = options;
    this.#nextHandle = handleIds.first;
    this.#handleStep = handleIds.step;
    this.#worker = this.#spawn();
  }

  static start(options: Partial<SupervisionOptions> & { readonly handleIds?: HandleIds } = {}): InferenceClient {
    const { handleIds = { first: 1, step: 1 }, ...supervision } = options;
    return new InferenceClient({ ...defaultSupervision, ...supervision }, handleIds);
  }

  /** One worker (see InferencePool for several). */
  readonly size = 1;

  onEachWorker(work: () => Promise<void>): Promise<void> {
    return work();
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

  /**
   * Bytes of tensor values posted to the workers so far (feeds of runs, and of runs made again
   * after a restart), counting each typed array's whole buffer, which is what a post copies.
   */
  get postedBytes(): number {
    return this.#postedBytes;
  }

  /** Model runs the workers answered (with outputs or an error) so far. */
  get runs(): number {
    return this.#runs;
  }

  /** Kept handles not yet dropped. */
  get keptHandles(): number {
    return this.#handles.size;
  }

  /**
   * Gives output buffers the caller is done with back to the worker, to be filled with later
   * outputs of the same size instead of sending new ones (`SpareBuffers`). The arrays
   * (and any other view of their buffers) are unusable afterwards. Only whole buffers of at least
   * RECYCLE_MIN_BYTES are given; others, and all while the worker restarts, are left to the GC.
   */
  recycle(arrays: readonly ArrayBufferView[]): void {
    if (this.#closed || this.#status !== 'running') return;
    const buffers = recyclable(arrays);
    if (buffers.length > 0) this.#worker.postMessage({ kind: 'recycle', id: 0, buffers } satisfies WorkerRequest, buffers);
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
      // Feeds are copied, not transferred: callers may reuse them, and a request may have to be
      // sent again. Outputs come back transferred. What is fed to several runs (one frame's SAM
      // embeddings feed every prompt batch) is kept in the worker instead: runKeeping.
      run: async (feeds, outputs) => (await this.#request({ kind: 'run', session, feeds, outputs })).result ?? {},
      runKeeping: async (feeds, keep, items) => {
        if (items !== undefined && !(Number.isInteger(items) && items >= 1)) throw new RangeError(`items must be >= 1, got ${items}`);
        const handles = Array.from({ length: items ?? 1 }, () => {
          const h = this.#nextHandle;
          this.#nextHandle += this.#handleStep;
          return h;
        });
        const k: Keep = { outputs: [...keep], handles, perItem: items !== undefined };
        const reply = await this.#request({ kind: 'run', session, feeds, outputs: [], keep: k });
        const info = reply.kept ?? {};
        return handles.map((h) => this.#handle(h, info));
      },
      release: async () => {
        const held = this.#sessions.get(session);
        this.#sessions.delete(session);
        if (held && !this.#closed && this.#status === 'running') {
          this.#worker.postMessage({ kind: 'release', id: 0, session: held.inWorker } satisfies WorkerRequest);
        }
      },
    };
  }

  /**
   * Lets the worker finish what it is running and release its sessions, then ends it
   * (terminated after `closeTimeoutMs` if it does not end by itself): terminating a thread
   * inside a native onnxruntime call aborts the process.
   */
  async close(closeTimeoutMs = 10_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#failAll(new OgclipError('inference worker is closed'));
    const worker = this.#worker;
    if (this.#exited.has(worker)) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ kind: 'close', id: 0 } satisfies WorkerRequest);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), closeTimeoutMs)));
    if ((await Promise.race([exited, late])) === 'late') await worker.terminate();
    clearTimeout(timer);
  }

  #handle(id: number, outputs: Readonly<Record<string, TensorInfo>>): TensorHandle {
    return {
      outputs,
      feed: (output) => {
        if (!(output in outputs)) throw new RangeError(`handle ${id} keeps ${Object.keys(outputs).join(', ')}, not ${output}`);
        return { type: 'kept', handle: id, output };
      },
      read: async (names = Object.keys(outputs)) => (await this.#request({ kind: 'read', handle: id, outputs: names })).result ?? {},
      drop: () => {
        if (!this.#handles.delete(id) || this.#closed || this.#status === 'failed') return;
        // Posted to the current worker even while it restarts: a run making the handle again
        // either leaves it out (not sent yet) or is followed by a drop of its own (#remake).
        this.#worker.postMessage({ kind: 'drop', id: 0, handles: [id] } satisfies WorkerRequest);
      },
    };
  }

  /** Why kept tensors that `feeds` (or a read) reference cannot be used, if they cannot. */
  #unusable(handles: Iterable<number>): string | undefined {
    for (const h of handles) {
      const held = this.#handles.get(h);
      if (!held) return `kept tensors of handle ${h} were dropped`;
      if ('lost' in held) return held.lost;
    }
    return undefined;
  }

  #remember(body: Body & { kind: 'run' }): void {
    const keep = body.keep;
    if (!keep) return;
    const recipe = { ...body, keep };
    for (const h of keep.handles) this.#handles.set(h, { recipe });
  }

  #spawn(): Worker {
    const w = new Worker(this.#options.workerUrl ?? new URL('./inference-worker.js', import.meta.url), {
      workerData: this.#options.workerData,
    });
    w.on('message', (reply: WorkerReply) => this.#onReply(w, reply));
    // 'error' (an uncaught exception in the worker) is followed by 'exit'; the restart happens there.
    w.on('error', () => {});
    w.once('exit', () => this.#exited.add(w));
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

  /** Posts a request to the current worker; false when it failed at once instead (released session, dropped handle). */
  #send(r: Request): boolean {
    let msg: WorkerRequest;
    const b = r.body;
    const refuse = (why: string) => {
      r.reject(new OgclipError(why));
      return false;
    };
    if (b.kind === 'run') {
      const held = this.#sessions.get(b.session);
      if (!held) return refuse(`session ${b.session} was released`);
      const unusable = this.#unusable(keptIn(b.feeds));
      if (unusable) return refuse(unusable);
      msg = { kind: 'run', id: r.id, session: held.inWorker, feeds: b.feeds, outputs: b.outputs, ...(b.keep ? { keep: b.keep } : {}) };
      this.#postedBytes += postedBytesOf(b.feeds);
    } else if (b.kind === 'read') {
      const unusable = this.#unusable([b.handle]);
      if (unusable) return refuse(unusable);
      msg = { kind: 'read', id: r.id, handle: b.handle, outputs: b.outputs };
    } else {
      msg = { kind: 'load', id: r.id, path: b.path, options: b.options };
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
    return true;
  }

  #onReply(from: Worker, reply: WorkerReply): void {
    if (from !== this.#worker) return;
    const r = this.#inFlight.get(reply.id);
    if (!r) return;
    this.#inFlight.delete(reply.id);
    clearTimeout(r.timer);
    if (r === this.#replaying) this.#replaying = undefined;
    if (r.body.kind === 'run') this.#runs++;
    if (reply.ok) {
      this.#consecutiveDeaths = 0;
      this.#convictBlamed();
      if (r.body.kind === 'run') this.#remember(r.body);
      r.resolve(reply);
    } else {
      r.reject(new OgclipError(reply.error));
    }
    this.#pump();
  }

  /** Sends what may go now: the next suspect alone while recovering, else everything waiting. */
  #pump(): void {
    if (this.#status !== 'running' || this.#closed || this.#replaying) return;
    for (let suspect = this.#suspects.shift(); suspect; suspect = this.#suspects.shift()) {
      if (this.#send(suspect)) {
        this.#replaying = suspect;
        return;
      }
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
      await this.#remake(worker, why);
    } catch (err) {
      // It died while loading or making kept tensors again: #onExit handles it.
      if (worker !== this.#worker || this.#closed || this.#status === 'failed') return;
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

  /**
   * Makes the live kept handles again on a restarted worker, one recipe at a time in the order
   * they were made (a recipe fed by another handle comes after it), under the same ids. A recipe
   * that cannot run (session released, a handle it is fed by lost) or fails loses its handles:
   * the requests that reference them fail with the reason. A death here is a death while
   * restarting, like one while loading (the error is rethrown for #restart).
   */
  async #remake(worker: Worker, why: string): Promise<void> {
    const recipes = new Set<Extract<Held, { recipe: unknown }>['recipe']>();
    for (const held of this.#handles.values()) if ('recipe' in held) recipes.add(held.recipe);
    for (const recipe of recipes) {
      const live = recipe.keep.handles.filter((h) => this.#handles.has(h));
      if (live.length === 0) continue;
      const lose = (reason: string) => {
        const lost = `kept tensors of handle ${live.join(', ')} were lost with the inference worker (${why}) and cannot be made again: ${reason}`;
        for (const h of live) if (this.#handles.has(h)) this.#handles.set(h, { lost });
      };
      const session = this.#sessions.get(recipe.session);
      if (!session) {
        lose(`the session that made them (${recipe.session}) was released`);
        continue;
      }
      const unusable = this.#unusable(keptIn(recipe.feeds));
      if (unusable) {
        lose(`a tensor they were made from is gone (${unusable})`);
        continue;
      }
      const keep = { ...recipe.keep, handles: recipe.keep.handles.map((h) => (live.includes(h) ? h : null)) };
      this.#postedBytes += postedBytesOf(recipe.feeds);
      try {
        await this.#direct(
          worker,
          { kind: 'run', id: this.#nextId++, session: session.inWorker, feeds: recipe.feeds, outputs: [], keep },
          `make kept tensors of handle ${live.join(', ')} again`,
        );
      } catch (err) {
        if (worker !== this.#worker || this.#closed || this.#status === 'failed') throw err;
        lose(`running again failed: ${(err as Error).message}`);
        continue;
      }
      // Dropped while it ran: the worker may have taken the drop before the run stored them
      // (a run waits for its turn, setImmediate in onnxruntime-node, and other messages go first).
      const dropped = live.filter((h) => !this.#handles.has(h));
      if (dropped.length > 0) worker.postMessage({ kind: 'drop', id: 0, handles: dropped } satisfies WorkerRequest);
    }
  }

  /** A load sent outside the request queue, while restarting. */
  async #loadInto(worker: Worker, path: string, options: SessionOptions): Promise<number> {
    const reply = await this.#direct(worker, { kind: 'load', id: this.#nextId++, path, options }, `load ${path}`);
    if (reply.session === undefined) throw new OgclipError(`${path}: no session`);
    return reply.session;
  }

  /** A request sent outside the request queue, while restarting; its reply is matched here. */
  #direct(worker: Worker, msg: WorkerRequest, what: string): Promise<Ok> {
    const id = msg.id;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#hung = `inference worker did not ${what} within ${this.#options.requestTimeoutMs} ms`;
        void worker.terminate();
      }, this.#options.requestTimeoutMs);
      const onMessage = (reply: WorkerReply) => {
        if (reply.id !== id) return;
        cleanup();
        if (reply.ok) resolve(reply);
        else reject(new OgclipError(reply.error));
      };
      const onExit = () => {
        cleanup();
        reject(new OgclipError(`worker exited while trying to ${what}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('exit', onExit);
      worker.postMessage(msg);
    });
  }

  #setStatus(s: RuntimeStatus, why?: string): void {
    this.#status = s;
    for (const l of this.#listeners) l(s, why);
  }

  #failAll(err: Error): void {
    this.#handles.clear(); // the runtime is gone: nothing will be made again
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

/** Below this, a buffer is not worth a message: small outputs (scores) are left to the GC. */
const RECYCLE_MIN_BYTES = 64 * 1024;

/** The distinct, whole, transferable buffers of `arrays` worth giving back. */
export function recyclable(arrays: readonly ArrayBufferView[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const a of arrays) {
    const b = a.buffer;
    if (!(b instanceof ArrayBuffer) || b.byteLength < RECYCLE_MIN_BYTES) continue; // shared, detached or small
    if (a.byteOffset !== 0 || a.byteLength !== b.byteLength) continue; // a view of part: the rest may be in use
    out.add(b);
  }
  return [...out];
}
