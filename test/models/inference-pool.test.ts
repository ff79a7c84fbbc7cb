import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { from, lastValueFrom, toArray } from 'rxjs';
import { ConfigError } from '../../src/errors.js';
import { readBundle } from '../../src/models/bundle.js';
import { InferenceClient, InferenceRuntimeError, type RuntimeStatus, type SupervisionOptions } from '../../src/models/inference-client.js';
import { OBJECT_CALL_CAP, callSizes } from '../../src/models/batch-shapes.js';
import { InferencePool, poolSize } from '../../src/models/inference-pool.js';
import { openModelSet, warmUp } from '../../src/models/model-set.js';
import type { InferenceRuntime } from '../../src/models/inference-runtime.js';
import { OnnxModel } from '../../src/models/onnx-model.js';
import { OnnxCommunitySam2, onnxCommunityDecoderSpec, onnxCommunityEncoderSpec } from '../../src/models/sam2-onnx-community.js';
import type { Sam2Model } from '../../src/models/sam2.js';
import { defaultSessionOptions } from '../../src/models/session-options.js';
import type { FrameRecord } from '../../src/record.js';
import { decodeStage, defaultDecodeLimits } from '../../src/stages/decode.js';
import { sam2Stage, samAutomaticDefaults } from '../../src/stages/sam2.js';
import type { FlakyCue } from '../helpers/flaky-inference-worker.js';
import { DEFAULT_BUNDLE, SHAPES_VAL } from '../helpers/paths.js';
import { record } from '../helpers/records.js';

const FLAKY = new URL('../helpers/flaky-inference-worker.js', import.meta.url);
const flaky = (cue: Omit<FlakyCue, 'runs'>): Partial<SupervisionOptions> => ({
  workerUrl: FLAKY,
  workerData: { ...cue, runs: new SharedArrayBuffer(8) } satisfies FlakyCue,
});

async function sam2On(runtime: InferenceRuntime): Promise<Sam2Model> {
  const m = (await readBundle(DEFAULT_BUNDLE)).manifest;
  const s = m.sam2.input_size;
  const open = (rel: string, spec: Parameters<typeof OnnxModel.open>[2]) =>
    OnnxModel.open(runtime, `${DEFAULT_BUNDLE}/${rel}`, spec, { ...defaultSessionOptions, intraOpNumThreads: 1 });
  return new OnnxCommunitySam2(
    await open(m.sam2.encoder, onnxCommunityEncoderSpec(s)),
    await open(m.sam2.decoder, onnxCommunityDecoderSpec),
    s,
  );
}

/** Which worker of a pool of `n` encoded each frame, read off its embeddings' handle. */
function trackWorkers(model: Sam2Model, n: number, seen: Set<number>): Sam2Model {
  return {
    format: model.format,
    inputSize: model.inputSize,
    maxEncoderBatch: model.maxEncoderBatch,
    encode: async (frames) => {
      const out = await model.encode(frames);
      for (const e of out) seen.add((e.handle.feed('image_embeddings.0').handle - 1) % n);
      return out;
    },
    decode: (e, p, w, h) => model.decode(e, p, w, h),
    release: (e) => model.release(e),
    recycle: (d) => model.recycle(d),
    dispose: () => model.dispose(),
  };
}

const FRAMES = 8;
const images = Promise.all(
  Array.from({ length: FRAMES }, (_, i) => readFile(join(SHAPES_VAL, 'images', `frame-${String(i).padStart(5, '0')}.jpg`))),
);

/** The sam2 stage's objects of every frame (masks by digest), two batches in flight. */
async function segment(model: Sam2Model, concurrency: number): Promise<{ errors: string[]; objects: string[] }> {
  const frames = (await images).map((img, i) => record(`f${i}`, new Uint8Array(img)));
  const out: FrameRecord[] = await lastValueFrom(
    from(frames).pipe(
      decodeStage({
        ...defaultDecodeLimits,
        sam2: { size: model.inputSize, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
        clip: { size: 64, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
        concurrency: 2,
      }),
      sam2Stage({
        model,
        mode: 'automatic',
        automatic: { ...samAutomaticDefaults, pointsPerSide: 4, predIouThresh: 0.5, stabilityScoreThresh: 0.5 },
        batch: { maxSize: 1, maxWaitMs: 0, concurrency },
      }),
      toArray(),
    ),
  );
  return {
    errors: out.flatMap((r) => (r.error ? [`${r.frameId}: ${r.error.message}`] : [])),
    objects: out.map((r) =>
      createHash('sha256')
        .update(JSON.stringify((r.objects ?? []).map((o) => [o.box, o.score, Buffer.from(o.mask.data).toString('base64')])))
        .digest('hex'),
    ),
  };
}

const single = (async () => {
  const client = InferenceClient.start();
  try {
    return await segment(await sam2On(client), 1);
  } finally {
    await client.close();
  }
})();

test('runtime.workers 0 means one worker per intraOpNumThreads cores; a bad count is a configuration error', (t) => {
  t.is(poolSize(0, 0, 8), 1, "onnxruntime's default threads already use every core");
  t.is(poolSize(0, 1, 8), 8);
  t.is(poolSize(0, 3, 8), 2);
  t.is(poolSize(0, 16, 8), 1);
  t.is(poolSize(3, 1, 8), 3);
  t.throws(() => poolSize(-1, 0, 8), { instanceOf: ConfigError, message: /runtime\.workers/ });
  t.throws(() => poolSize(1.5, 0, 8), { instanceOf: ConfigError });
});

test("frames spread over the pool's workers, each frame's decoder calls go where its embeddings are, and the masks are a single worker's", async (t) => {
  const pool = InferencePool.start(2);
  t.teardown(() => pool.close());
  const seen = new Set<number>();
  const got = await segment(trackWorkers(await sam2On(pool), 2, seen), 2);
  t.deepEqual(got.errors, [], 'a decoder call sent to a worker without its embeddings fails the frame');
  t.deepEqual([...seen].sort(), [0, 1], 'both workers encoded frames');
  const want = await single;
  t.true(want.objects.length === FRAMES);
  t.deepEqual(got.objects, want.objects);
  t.is(pool.keptHandles, 0, 'every frame released its embeddings');
});

test('a run fed kept embeddings goes to the worker that holds them, whichever worker is idle', async (t) => {
  const pool = InferencePool.start(2);
  t.teardown(() => pool.close());
  const model = await sam2On(pool);
  const s = model.inputSize;
  const pixels = (seed: number) => ({
    data: Float32Array.from({ length: 3 * s * s }, (_, i) => (((i * 7 + seed * 31) % 97) / 97 - 0.5) * 2),
    channels: 3,
    height: s,
    width: s,
  });
  // Both idle: the encodes take turns (worker 0, then 1), and so would the decodes without affinity.
  const [a] = await model.encode([pixels(1)]);
  const [b] = await model.encode([pixels(2)]);
  const workerOf = (e: typeof a) => (e!.handle.feed('image_embeddings.0').handle - 1) % 2;
  t.deepEqual([workerOf(a), workerOf(b)], [0, 1]);
  const prompts = [{ points: [[40, 50] as const], labels: [1 as const] }];
  const order = [b, a, b, a];
  const masks = [];
  for (const e of order) masks.push(Array.from((await model.decode(e!, prompts, s, s)).iou));
  t.deepEqual(masks[2], masks[0]);
  t.deepEqual(masks[3], masks[1]);
  model.release(a!);
  model.release(b!);
});

test('a worker of the pool killed mid-stream is restarted: no frame is lost and the masks are the same', async (t) => {
  // The cue counts runs over both workers: the worker that gets the 6th run of the stream exits.
  const pool = InferencePool.start(2, flaky({ exitOnRun: [6] }));
  t.teardown(() => pool.close());
  const statuses: RuntimeStatus[] = [];
  pool.onStatus((s) => statuses.push(s));
  const got = await segment(await sam2On(pool), 2);
  t.deepEqual(got.errors, []);
  t.deepEqual(got.objects, (await single).objects);
  t.is(pool.restarts, 1);
  t.deepEqual(statuses, ['restarting', 'running']);
  t.is(pool.status, 'running');
});

test('a pool whose worker keeps dying fails the run with InferenceRuntimeError instead of dead-lettering frames', async (t) => {
  const pool = InferencePool.start(2, { ...flaky({ exitOnRun: [5, 6, 7, 8, 9, 10, 11, 12] }), maxConsecutiveRestarts: 1 });
  t.teardown(() => pool.close());
  const model = await sam2On(pool);
  await t.throwsAsync(segment(model, 2), { instanceOf: InferenceRuntimeError });
  t.is(pool.status, 'failed');
});

test('warming a model set up runs every model on every worker of the pool', async (t) => {
  const bundle = await readBundle(DEFAULT_BUNDLE);
  const models = await openModelSet(bundle, { ...defaultSessionOptions, intraOpNumThreads: 1 }, undefined, 3);
  t.teardown(() => models.dispose());
  const pool = models.worker as InferencePool;
  t.is(pool.size, 3);
  await warmUp(models);
  // On each worker, with the default limits (one frame, one prompt a call): the encoder once, the
  // decoder once with a click and once with a box and a click, CLIP text once, and CLIP vision
  // and the head's four parts at each object call size (1, 2, 4, ... 64).
  const perWorker = 1 + 2 + 1 + 5 * callSizes('powers-of-two', OBJECT_CALL_CAP).length;
  t.deepEqual(pool.runsPerWorker, [perWorker, perWorker, perWorker]);
  t.is(pool.keptHandles, 0);
});

test("the pool's status changes once per change, and a failure's reason is the one that stays", async (t) => {
  // Both workers die on their first run and give up at once: the pool fails on the first death;
  // the second must not report again (a later, different reason would replace the first on /healthz).
  const pool = InferencePool.start(2, { ...flaky({ exitAlways: true }), maxConsecutiveRestarts: 0 });
  t.teardown(() => pool.close());
  const heard: [RuntimeStatus, string | undefined][] = [];
  pool.onStatus((s, why) => heard.push([s, why]));
  const model = await sam2On(pool);
  const s = model.inputSize;
  const blank = { data: new Float32Array(3 * s * s), channels: 3, height: s, width: s };
  const both = await Promise.allSettled([model.encode([blank]), model.encode([blank])]);
  t.deepEqual(
    both.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  t.deepEqual(pool.runsPerWorker, [0, 0], 'each worker died on its run (none answered)');
  t.is(pool.status, 'failed');
  t.is(heard.length, 1, JSON.stringify(heard));
  t.is(heard[0]![0], 'failed');
  t.regex(heard[0]![1] ?? '', /exited with code 3/);
});
