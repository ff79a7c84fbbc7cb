import test from 'ava';
import { InferenceClient, InferenceRuntimeError, type RuntimeStatus, type SupervisionOptions } from '../../src/models/inference-client.js';
import { defaultSessionOptions } from '../../src/models/session-options.js';
import type { Tensor } from '../../src/models/tensor.js';
import type { FlakyCue } from '../helpers/flaky-inference-worker.js';
import { DEFAULT_BUNDLE } from '../helpers/paths.js';

const PROJECTION = `${DEFAULT_BUNDLE}/head/projection.onnx`;
const FLAKY = new URL('../helpers/flaky-inference-worker.js', import.meta.url);

function flakyClient(cue: Omit<FlakyCue, 'runs'>, options: Partial<SupervisionOptions> = {}) {
  const runs = new SharedArrayBuffer(8);
  const client = InferenceClient.start({ workerUrl: FLAKY, workerData: { ...cue, runs } satisfies FlakyCue, ...options });
  const statuses: RuntimeStatus[] = [];
  client.onStatus((s) => statuses.push(s));
  return { client, statuses, runs: () => Atomics.load(new Int32Array(runs), 0) };
}

/** One input row per request, its first value `i` (so a poison value picks one request). */
async function projectionRuns(client: InferenceClient, values: readonly number[]) {
  const session = await client.load(PROJECTION, defaultSessionOptions);
  const input = session.inputs[0]!;
  const width = Number(input.shape[1]);
  const feeds = (v: number): Record<string, Tensor> => {
    const data = new Float32Array(width).fill(0.01);
    data[0] = v;
    return { [input.name]: { type: 'float32', dims: [1, width], data } };
  };
  const outputs = [session.outputs[0]!.name];
  return Promise.allSettled(
    values.map((v) => session.run(feeds(v), outputs).then((o) => Array.from(o[outputs[0]!]!.data as Float32Array))),
  );
}

const VALUES = [1, 2, 3, 4, 5, 6, 7, 8];

test('a worker that exits mid-stream is restarted; every request is answered, with the same outputs', async (t) => {
  const healthy = InferenceClient.start();
  t.teardown(() => healthy.close());
  const expected = await projectionRuns(healthy, VALUES);

  const { client, statuses } = flakyClient({ exitOnRun: [3] });
  t.teardown(() => client.close());
  const got = await projectionRuns(client, VALUES);
  t.deepEqual(got, expected);
  t.true(got.every((r) => r.status === 'fulfilled'));
  t.is(client.restarts, 1);
  t.deepEqual(statuses, ['restarting', 'running']);
  t.is(client.status, 'running');
});

test('a worker that hangs is terminated after requestTimeoutMs and its requests are answered by the next one', async (t) => {
  const { client, statuses } = flakyClient({ hangOnRun: [2] }, { requestTimeoutMs: 1500 });
  t.teardown(() => client.close());
  const got = await projectionRuns(client, VALUES);
  t.true(
    got.every((r) => r.status === 'fulfilled'),
    JSON.stringify(got.filter((r) => r.status === 'rejected')),
  );
  t.is(client.restarts, 1);
  t.deepEqual(statuses, ['restarting', 'running']);
});

test('a request that kills the worker by itself fails alone; the others go through', async (t) => {
  const { client } = flakyClient({ exitOnValue: 5 });
  t.teardown(() => client.close());
  const got = await projectionRuns(client, VALUES);
  const failed = got.flatMap((r, i) => (r.status === 'rejected' ? [VALUES[i]] : []));
  t.deepEqual(failed, [5]);
  const reason = (got[VALUES.indexOf(5)] as PromiseRejectedResult).reason as Error;
  t.false(reason instanceof InferenceRuntimeError, 'one bad request is a frame error, not a runtime failure');
  t.regex(reason.message, /died twice running this request, the second time alone/);
  t.is(client.restarts, 2); // once with everything in flight, once with the culprit alone
  t.is(client.status, 'running');
});

test('a worker that keeps dying fails the runtime after maxConsecutiveRestarts, with a clear error', async (t) => {
  const { client, statuses } = flakyClient({ exitAlways: true }, { maxConsecutiveRestarts: 2 });
  t.teardown(() => client.close());
  const got = await projectionRuns(client, VALUES);
  t.true(got.some((r) => r.status === 'rejected' && r.reason instanceof InferenceRuntimeError));
  const runtime = got.find((r) => r.status === 'rejected' && r.reason instanceof InferenceRuntimeError) as PromiseRejectedResult;
  t.regex((runtime.reason as Error).message, /inference runtime failed: inference worker exited with code 3, 3 times in a row/);
  t.is(client.status, 'failed');
  t.is(statuses.at(-1), 'failed');
  await t.throwsAsync(
    projectionRuns(client, [1]).then((r) => Promise.reject((r[0] as PromiseRejectedResult).reason)),
    {
      instanceOf: InferenceRuntimeError,
    },
  );
});
