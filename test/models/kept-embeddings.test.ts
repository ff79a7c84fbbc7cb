import { createHash } from 'node:crypto';
import test from 'ava';
import { from, lastValueFrom, toArray } from 'rxjs';
import type { MaskLogits } from '../../src/masks/mask-logits.js';
import { readBundle } from '../../src/models/bundle.js';
import { InferenceClient, type SupervisionOptions } from '../../src/models/inference-client.js';
import { openModelSet, warmUp } from '../../src/models/model-set.js';
import { OnnxModel } from '../../src/models/onnx-model.js';
import { OnnxCommunitySam2, onnxCommunityDecoderSpec, onnxCommunityEncoderSpec } from '../../src/models/sam2-onnx-community.js';
import type { Sam2Model, Sam2Prompt } from '../../src/models/sam2.js';
import { defaultSessionOptions } from '../../src/models/session-options.js';
import { floatOutput } from '../../src/models/tensor.js';
import type { FrameRecord } from '../../src/record.js';
import { decodeStage, defaultDecodeLimits } from '../../src/stages/decode.js';
import { sam2Stage, samAutomaticDefaults } from '../../src/stages/sam2.js';
import type { Chw } from '../../src/tensor/image.js';
import type { FlakyCue } from '../helpers/flaky-inference-worker.js';
import { pngImage } from '../helpers/images.js';
import { DEFAULT_BUNDLE } from '../helpers/paths.js';
import { record } from '../helpers/records.js';

// The default bundle's SAM2 (onnx-community, 256 x 256): its embeddings are 768 KiB a frame
// ([1,32,64,64], [1,48,32,32], [1,64,16,16]), as much as its input pixels.
const FLAKY = new URL('../helpers/flaky-inference-worker.js', import.meta.url);

async function sam2(options: Partial<SupervisionOptions> = {}) {
  const client = InferenceClient.start(options);
  const m = (await readBundle(DEFAULT_BUNDLE)).manifest;
  const s = m.sam2.input_size;
  const open = (rel: string, spec: Parameters<typeof OnnxModel.open>[2]) =>
    OnnxModel.open(client, `${DEFAULT_BUNDLE}/${rel}`, spec, defaultSessionOptions);
  const encoder = await open(m.sam2.encoder, onnxCommunityEncoderSpec(s));
  const decoder = await open(m.sam2.decoder, onnxCommunityDecoderSpec);
  return { client, model: new OnnxCommunitySam2(encoder, decoder, s), encoder, decoder, s };
}

function flaky(cue: Omit<FlakyCue, 'runs'>): Partial<SupervisionOptions> {
  return { workerUrl: FLAKY, workerData: { ...cue, runs: new SharedArrayBuffer(8) } satisfies FlakyCue };
}

/** A frame that differs with `seed`, in the encoder's normalised range. */
function frame(s: number, seed: number): Chw {
  const data = new Float32Array(3 * s * s);
  for (let i = 0; i < data.length; i++) data[i] = (((i * 7 + seed * 31) % 97) / 97 - 0.5) * 2;
  return { data, channels: 3, height: s, width: s };
}

/** `chunks` decoder calls of `perChunk` one-click prompts each, over a 640 x 480 frame. */
function promptChunks(chunks: number, perChunk: number): Sam2Prompt[][] {
  return Array.from({ length: chunks }, (_, c) =>
    Array.from({ length: perChunk }, (_, i): Sam2Prompt => ({ points: [[20 + 37 * c + 3 * i, 30 + 11 * i]], labels: [1] })),
  );
}

/** A decoder result, its logits by digest (exact, and a failing comparison stays readable). */
const masksOf = (d: MaskLogits) => ({
  logits: createHash('sha256')
    .update(new Uint8Array(d.logits.buffer, d.logits.byteOffset, d.logits.byteLength))
    .digest('hex'),
  iou: Array.from(d.iou),
  objectScore: Array.from(d.objectScore),
});

/** Bytes of one decoder call's prompt tensors for `p` one-click prompts: [1,P,2,2] float32 points (the click and
 * SAM2's "not a point" pad), [1,P,2] int64 labels, an empty [1,0,4] box input. */
const promptBytes = (p: number) => p * 2 * 2 * 4 + p * 2 * 8;

test('decoder calls reference the kept embeddings: bytes posted per frame grow only by the prompt tensors', async (t) => {
  const { client, model, s } = await sam2();
  t.teardown(() => client.close());
  const perChunk = 4;
  const posted: number[] = [];
  for (const chunks of [1, 4, 16]) {
    const before = client.postedBytes;
    const [emb] = await model.encode([frame(s, chunks)]);
    const afterEncode = client.postedBytes;
    t.is(afterEncode - before, 3 * s * s * 4, 'the encoder gets the frame once');
    for (const chunk of promptChunks(chunks, perChunk)) await model.decode(emb!, chunk, 640, 480);
    model.release(emb!);
    t.is(client.postedBytes - afterEncode, chunks * promptBytes(perChunk), `${chunks} decoder calls post their prompts only`);
    posted.push(client.postedBytes - before);
  }
  // Embeddings posted with every call would add 768 KiB a call.
  t.deepEqual(
    posted.map((b) => b - 3 * s * s * 4),
    [1, 4, 16].map((c) => c * promptBytes(perChunk)),
  );
  t.is(client.keptHandles, 0);
});

test("the sam2 stage posts a frame's pixels and its prompt tensors only, however many decoder calls, and leaves no handle", async (t) => {
  const { client, model, s } = await sam2();
  t.teardown(() => client.close());
  // Counts what the stage decodes (which grid points it sends is the stage's business).
  let prompts = 0;
  let calls = 0;
  const counted: Sam2Model = {
    format: model.format,
    inputSize: model.inputSize,
    maxEncoderBatch: model.maxEncoderBatch,
    encode: (frames) => model.encode(frames),
    decode: (emb, chunk, w, h) => {
      prompts += chunk.length;
      calls++;
      return model.decode(emb, chunk, w, h);
    },
    release: (emb) => model.release(emb),
    recycle: (d) => model.recycle(d),
    dispose: () => model.dispose(),
  };
  const image = await pngImage(96, 80);
  const frames = 3;
  const run = async (pointsPerBatch: number) => {
    [prompts, calls] = [0, 0];
    const before = client.postedBytes;
    const out = await lastValueFrom(
      from(Array.from({ length: frames }, (_, i) => record(`f${i}`, image))).pipe(
        decodeStage({
          ...defaultDecodeLimits,
          sam2: { size: s, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
          clip: { size: 64, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
          concurrency: 1,
        }),
        sam2Stage({
          model: counted,
          mode: 'automatic',
          automatic: { ...samAutomaticDefaults, pointsPerSide: 8, pointsPerBatch },
          batch: { maxSize: 2, maxWaitMs: 5 },
        }),
        toArray(),
      ),
    );
    t.deepEqual(
      out.filter((r) => r.error).map((r) => r.error?.message),
      [],
    );
    t.is(client.keptHandles, 0, 'every frame released its embeddings');
    return { posted: client.postedBytes - before, prompts, calls };
  };
  for (const pointsPerBatch of [64, 4, 1]) {
    const r = await run(pointsPerBatch);
    if (pointsPerBatch === 1) t.true(r.calls >= 2 * frames, `${r.calls} decoder calls for ${frames} frames`);
    // Each frame's pixels once (the encoder), then the prompts' tensors: 32 bytes a one-click prompt,
    // whether the calls are few or many. The embeddings (768 KiB a frame) would come on top of
    // every call if they were posted with it.
    t.is(r.posted, frames * 3 * s * s * 4 + promptBytes(r.prompts), `pointsPerBatch ${pointsPerBatch}: ${r.calls} decoder calls`);
  }
});

test('a batched encode keeps one handle per frame, each the same as that frame encoded alone', async (t) => {
  const { client, model, s } = await sam2();
  t.teardown(() => client.close());
  const [a, b] = await model.encode([frame(s, 1), frame(s, 2)]);
  const [alone] = await model.encode([frame(s, 2)]);
  t.deepEqual(b!.dims, alone!.dims);
  t.deepEqual(b!.dims['image_embeddings.2'], [1, 64, 16, 16]);
  const [got, want] = [await b!.handle.read(), await alone!.handle.read()];
  for (const name of Object.keys(want)) {
    const g = floatOutput(got, name).data;
    const w = floatOutput(want, name).data;
    const worst = g.reduce((m, v, i) => Math.max(m, Math.abs(v - w[i]!)), 0);
    t.true(worst < 1e-4, `${name}: batch item 1 differs from the frame alone by ${worst}`);
  }
  t.notDeepEqual(
    Array.from(floatOutput(await a!.handle.read(), 'image_embeddings.2').data.slice(0, 64)),
    Array.from(floatOutput(got, 'image_embeddings.2').data.slice(0, 64)),
  );
  model.release(a!);
  model.release(a!); // idempotent
  t.is(client.keptHandles, 2);
  // Frame b lives on after a was dropped (a view of the batch output, kept by its own handle).
  const [chunk] = promptChunks(1, 3);
  t.deepEqual(masksOf(await model.decode(b!, chunk!, 640, 480)), masksOf(await model.decode(alone!, chunk!, 640, 480)));
  await t.throwsAsync(model.decode(a!, chunk!, 640, 480), { message: /kept tensors of handle \d+ were dropped/ });
});

const killedChunks = promptChunks(3, 4);

/** Two frames in one encoder batch, the first released before any decoder call, then the second's prompts in 3 calls. */
async function decodeSecond(model: Sam2Model, s: number) {
  const [first, second] = await model.encode([frame(s, 5), frame(s, 6)]);
  model.release(first!);
  const out = [];
  for (const c of killedChunks) out.push(masksOf(await model.decode(second!, c, 640, 480)));
  model.release(second!);
  return out;
}

let expectedMasks: Promise<ReturnType<typeof masksOf>[]> | undefined;

function healthyMasks() {
  expectedMasks ??= (async () => {
    const healthy = await sam2();
    try {
      return await decodeSecond(healthy.model, healthy.s);
    } finally {
      await healthy.client.close();
    }
  })();
  return expectedMasks;
}

test("a worker killed between a frame's encode and its decoder calls: the embeddings are made again, the masks are the same", async (t) => {
  // The restarted worker makes the batch again keeping only the second frame (the first was released).
  const killed = await sam2(flaky({ exitOnKeptFeed: true }));
  t.teardown(() => killed.client.close());
  const statuses: string[] = [];
  killed.client.onStatus((st) => statuses.push(st));
  const got = await decodeSecond(killed.model, killed.s);
  t.is(killed.client.restarts, 1);
  t.deepEqual(statuses, ['restarting', 'running']);
  t.deepEqual(got, await healthyMasks());
  t.is(killed.client.keptHandles, 0);
  // The batch was posted twice (its encode, then its remake); the prompts of each call once, and
  // those of the call the worker died on once more (sent again alone).
  t.is(killed.client.postedBytes, 2 * (2 * 3 * killed.s ** 2 * 4) + 4 * promptBytes(4));
});

test('a worker that dies on the encode itself, or hangs on a decoder call, gives the same masks too', async (t) => {
  // Run 1 is the encode (its handles are made by the resent request), run 2 the first decoder call.
  for (const options of [flaky({ exitOnRun: [1] }), { ...flaky({ hangOnRun: [2] }), requestTimeoutMs: 1500 }]) {
    const c = await sam2(options);
    try {
      t.deepEqual(await decodeSecond(c.model, c.s), await healthyMasks());
      t.is(c.client.restarts, 1);
      t.is(c.client.keptHandles, 0);
    } finally {
      await c.client.close();
    }
  }
});

test('kept tensors whose session was released cannot be made again: the requests that use them fail, saying why', async (t) => {
  const { client, model, encoder, s } = await sam2(flaky({ exitOnKeptFeed: true }));
  t.teardown(() => client.close());
  const [emb] = await model.encode([frame(s, 3)]);
  await encoder.dispose();
  const [chunk] = promptChunks(1, 2);
  // The worker dies on this call; the new one cannot run the released encoder again.
  await t.throwsAsync(model.decode(emb!, chunk!, 640, 480), {
    message:
      /kept tensors of handle \d+ were lost with the inference worker \(inference worker exited with code 5\) and cannot be made again: the session that made them \(\d+\) was released/,
  });
  t.is(client.status, 'running');
  model.release(emb!);
  t.is(client.keptHandles, 0);
});

test('a frame that fails after its encode does not leak its embeddings, nor do the frames after it', async (t) => {
  const { client, model, s } = await sam2();
  t.teardown(() => client.close());
  let calls = 0;
  const failing: Sam2Model = {
    format: model.format,
    inputSize: model.inputSize,
    maxEncoderBatch: model.maxEncoderBatch,
    encode: (frames) => model.encode(frames),
    decode: (emb, prompts, w, h) => (++calls === 2 ? Promise.reject(new Error('decoder failed')) : model.decode(emb, prompts, w, h)),
    release: (emb) => model.release(emb),
    recycle: (d) => model.recycle(d),
    dispose: () => model.dispose(),
  };
  const image = await pngImage(96, 80);
  const click: Sam2Prompt[] = [{ points: [[30, 30]], labels: [1] }];
  const out: FrameRecord[] = await lastValueFrom(
    from(Array.from({ length: 3 }, (_, i) => record(`f${i}`, image, { prompts: click }))).pipe(
      decodeStage({
        ...defaultDecodeLimits,
        sam2: { size: s, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
        clip: { size: 64, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
        concurrency: 1,
      }),
      sam2Stage({ model: failing, mode: 'prompted', automatic: samAutomaticDefaults, batch: { maxSize: 3, maxWaitMs: 10_000 } }),
      toArray(),
    ),
  );
  t.deepEqual(
    out.map((r) => r.error?.code),
    ['inference-failed', 'inference-failed', 'inference-failed'],
  );
  t.is(client.keptHandles, 0);
});

test('warming a model set up leaves no embeddings kept in the worker', async (t) => {
  const models = await openModelSet(await readBundle(DEFAULT_BUNDLE));
  t.teardown(() => models.dispose());
  await warmUp(models);
  t.is(models.worker.keptHandles, 0);
});
