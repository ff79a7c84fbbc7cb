// The real inference worker, made to crash or hang on cue: the cue counts `run` requests over
// every worker started with the same shared counter, so a restarted worker carries on counting.
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerRequest } from '../../src/models/inference-protocol.js';

export interface FlakyCue {
  readonly runs: SharedArrayBuffer; // Int32Array(2): run requests seen by all workers so far, workers started
  readonly restartDelayMs?: number; // a restarted worker takes this long before it answers (a slow model load)
  readonly exitOnRun?: readonly number[]; // 1-based run counts at which the worker exits
  readonly hangOnRun?: readonly number[]; // ... at which it blocks its thread for good
  readonly exitOnValue?: number; // exit whenever a feed starts with this value (a "poison" input)
  readonly exitAlways?: boolean;
  /**
   * The first worker exits on its first run fed a kept tensor (a decoder call after its frame's
   * encode): what it kept dies with it. Later workers do not.
   */
  readonly exitOnKeptFeed?: boolean;
}

const cue = workerData as FlakyCue;
const runs = new Int32Array(cue.runs);

// Registered before the real worker's listener (imported below), so it sees each request first.
// Requests that arrive while the real worker is still being imported reach no other listener:
// they are kept and dispatched again once it listens.
let listening = false;
const early: WorkerRequest[] = [];
parentPort?.on('message', (req: WorkerRequest) => {
  if (!listening) return void early.push(req);
  if (req.kind !== 'run') return;
  const n = Atomics.add(runs, 0, 1) + 1;
  if (cue.exitAlways || cue.exitOnRun?.includes(n)) process.exit(3);
  const poison = cue.exitOnValue;
  if (poison !== undefined && Object.values(req.feeds).some((f) => f.type === 'float32' && f.data[0] === poison)) process.exit(4);
  if (cue.hangOnRun?.includes(n)) for (;;); // only terminate() ends this thread now
  if (cue.exitOnKeptFeed && started === 1 && Object.values(req.feeds).some((f) => f.type === 'kept')) process.exit(5);
});

const started = Atomics.add(runs, 1, 1) + 1;
await import('../../src/models/inference-worker.js');
if (started > 1 && cue.restartDelayMs) await new Promise((r) => setTimeout(r, cue.restartDelayMs));
listening = true;
for (const req of early) (parentPort as unknown as { emit(event: 'message', value: unknown): void }).emit('message', req);
