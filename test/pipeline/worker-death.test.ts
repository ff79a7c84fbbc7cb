import test from 'ava';
import { InferenceRuntimeError, defaultSupervision } from '../../src/models/inference-client.js';
import { readBundle } from '../../src/models/bundle.js';
import { openModelSet } from '../../src/models/model-set.js';
import { defaultSessionOptions } from '../../src/models/session-options.js';
import { collectSink } from '../../src/sinks/collect-sink.js';
import { memorySource } from '../../src/sources/memory-source.js';
import { defaultTopology } from '../../src/topology/default-topology.js';
import { startTopology } from '../../src/topology/start-topology.js';
import type { FlakyCue } from '../helpers/flaky-inference-worker.js';
import { pngImage } from '../helpers/images.js';
import { DEFAULT_BUNDLE } from '../helpers/paths.js';
import { record } from '../helpers/records.js';

const FLAKY = new URL('../helpers/flaky-inference-worker.js', import.meta.url);
const FRAMES = 12;

async function run(cue: Omit<FlakyCue, 'runs'>, maxConsecutiveRestarts: number) {
  const models = await openModelSet(await readBundle(DEFAULT_BUNDLE), defaultSessionOptions, {
    ...defaultSupervision,
    maxConsecutiveRestarts,
    workerUrl: FLAKY,
    workerData: { ...cue, runs: new SharedArrayBuffer(8) } satisfies FlakyCue,
  });
  const image = await pngImage(96, 96);
  const click = [{ points: [[30, 30] as [number, number]], labels: [1 as const] }];
  const source = memorySource(Array.from({ length: FRAMES }, (_, i) => record(`f${i}`, image, { prompts: click })));
  const sink = collectSink();
  const statuses: string[] = [];
  models.worker.onStatus((s, why) => {
    statuses.push(s);
    if (process.env.DBG) console.error(s, why);
  });
  // Small batches, so that the worker dies with frames both done and still to come.
  const topology = defaultTopology(DEFAULT_BUNDLE, { sam2: { mode: 'prompted' }, batching: { maxSize: 2, maxWaitMs: 5 }, maxInFlight: 4 });
  const running = await startTopology(topology, { models, source, extraSinks: [sink], log: () => {} });
  const outcome = await running.done.then(
    () => undefined,
    (err: unknown) => err,
  );
  await models.dispose();
  return { outcome, source, sink, statuses, restarts: models.worker.restarts };
}

test('the inference worker dies mid-stream: it is replaced and every frame gets its outputs, none a dead letter', async (t) => {
  // Warm-up and label embedding use the first runs; the exit falls among the frames.
  const r = await run({ exitOnRun: [14] }, 3);
  t.is(r.outcome, undefined);
  t.is(r.restarts, 1);
  t.deepEqual(r.statuses, ['restarting', 'running']);
  t.deepEqual(
    r.sink.records.filter((x) => x.error).map((x) => `${x.frameId}: ${x.error?.message}`),
    [],
  );
  t.is(r.sink.records.length, FRAMES);
  t.true(r.sink.records.every((x) => (x.objects?.length ?? 0) > 0));
  t.is(r.source.acked.length, FRAMES);
});

test('an inference runtime that keeps dying stops the run with its reason; frames it did not finish are not acknowledged', async (t) => {
  const r = await run({ exitOnRun: Array.from({ length: 200 }, (_, i) => i + 14) }, 2);
  t.true(r.outcome instanceof InferenceRuntimeError, String(r.outcome));
  t.regex((r.outcome as Error).message, /inference runtime failed: inference worker exited with code 3, 3 times in a row/);
  t.is(r.statuses.at(-1), 'failed');
  t.true(r.source.acked.length < FRAMES, `acknowledged ${r.source.acked.length} of ${FRAMES}`);
  // Nothing was turned into a dead letter by the runtime's failure: what was acknowledged was finished.
  t.deepEqual(
    r.sink.records.filter((x) => x.error).map((x) => `${x.frameId} ${x.error?.stage}:${x.error?.code} ${x.error?.message}`),
    [],
  );
  t.is(r.source.acked.length, r.sink.records.length);
});
