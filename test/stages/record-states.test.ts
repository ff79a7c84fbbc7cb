import test from 'ava';
import { planesOf } from '../../src/tensor/image.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { from, lastValueFrom, tap, toArray, type OperatorFunction } from 'rxjs';
import { DEFAULT_CROP } from '../../src/masks/crop.js';
import { readBundle } from '../../src/models/bundle.js';
import type { ClipText, ClipVision } from '../../src/models/clip.js';
import { LabelSet } from '../../src/models/label-set.js';
import { openModelSet, requireHead, type ObjectGuidedHead } from '../../src/models/model-set.js';
import type { Sam2Prompt } from '../../src/models/sam2.js';
import type { FrameRecord, ObjectState, ObjectStateName } from '../../src/record.js';
import { branchesStage } from '../../src/stages/branches.js';
import { cropEmbedStage } from '../../src/stages/crop-embed.js';
import { decodeStage, defaultDecodeLimits } from '../../src/stages/decode.js';
import { fusionStage } from '../../src/stages/fusion.js';
import { projectionStage } from '../../src/stages/projection.js';
import { sam2Stage, samAutomaticDefaults } from '../../src/stages/sam2.js';
import { similarityStage } from '../../src/stages/similarity.js';
import { dot } from '../../src/tensor/vector.js';
import { DEFAULT_BUNDLE, SHAPES_VAL } from '../helpers/paths.js';
import { record } from '../helpers/records.js';

const batch = { maxSize: 8, maxWaitMs: 5 };
const mask = { width: 2, height: 2, data: Uint8Array.from([1, 1, 0, 0]) };
const base = (index: number) => ({ index, prompt: {}, mask, box: [0, 0, 2, 1] as const, score: 0.9 });
const f32 = (...v: number[]) => Float32Array.from(v);

function branched(index: number, x: number): ObjectState {
  return { ...base(index), state: 'branched', objectFeatures: f32(x), maskFeatures: f32(0), clipFeatures: f32(0) };
}

async function through(records: FrameRecord[], ...stages: OperatorFunction<FrameRecord, FrameRecord>[]): Promise<FrameRecord[]> {
  let out = from(records);
  for (const s of stages) out = out.pipe(s);
  return lastValueFrom(out.pipe(toArray()));
}

const states = (r: FrameRecord) => (r.objects ?? []).map((o) => o.state);

test('a stage given objects in the wrong state fails that record (internal, naming both states); the rest of the batch goes on', async (t) => {
  // A fusion stand-in that echoes each object's first object feature times 10: rows must land on the right objects.
  const calls: number[] = [];
  const head = {
    fusion: {
      run: async (inputs: Record<string, { dims: readonly number[]; data: Float32Array }>) => {
        const of = inputs.object_features!;
        calls.push(of.dims[0]!);
        return Array.from(of.data, (x) => f32(x * 10));
      },
    },
  } as unknown as ObjectGuidedHead;
  const a = record('a', new Uint8Array(0), { objects: [branched(0, 1), branched(1, 2)] });
  const b = record('b', new Uint8Array(0), { objects: [{ ...base(0), state: 'segmented' }] }); // skipped branches: a wiring bug
  const c = record('c', new Uint8Array(0), { objects: [branched(0, 3)] });
  const d = record('d'); // no objects at all: no sam2 stage before
  const out = await through([a, b, c, d], fusionStage({ head, batch }));

  t.deepEqual(calls, [3], 'one fusion run, for the three objects of the healthy records only');
  t.is(out.length, 4);
  t.is(out[1]!.error?.stage, 'fusion');
  t.is(out[1]!.error?.code, 'internal');
  t.regex(out[1]!.error?.message ?? '', /fusion expects objects in state 'branched', found 'segmented'/);
  t.is(out[3]!.error?.code, 'internal');
  t.regex(out[3]!.error?.message ?? '', /fusion expects objects in state 'branched', found no objects/);
  t.deepEqual(states(out[1]!), ['segmented'], 'the failed record keeps its objects as they were');
  for (const r of [out[0]!, out[2]!]) t.is(r.error, undefined);
  const fused = [out[0]!, out[2]!].flatMap((r) => r.objects ?? []).map((o) => (o.state === 'fused' ? [...o.fused] : o.state));
  t.deepEqual(fused, [[10], [20], [30]]);
  t.false('objectFeatures' in out[0]!.objects![0]!, 'a new object in the new state, the branch features gone');

  // The similarity stage reads only embedded (or already labelled) objects.
  const labels = await LabelSet.create(
    { embed: async (texts: readonly string[]) => texts.map((x) => (x === 'x' ? f32(1, 0) : f32(0, 1))) } as unknown as ClipText,
    ['x', 'y'],
  );
  const sim = similarityStage({ labels, score: 'cosine', logitScale: 1, scoreThreshold: 0.5, topK: 1, maskNmsThresh: 0.5 });
  const e = record('e', new Uint8Array(0), { objects: [{ ...base(0), state: 'embedded', embedding: f32(0, 1) }] });
  const [fine, wrong] = await through([e, out[0]!], sim);
  t.deepEqual(states(fine!), ['labelled']);
  t.deepEqual(
    fine!.detections?.map((x) => x.label),
    ['y'],
  );
  t.is(wrong!.error?.code, 'internal');
  t.regex(wrong!.error?.message ?? '', /similarity expects objects in state 'embedded' or 'labelled', found 'fused' \(object 0 of 2\)/);

  // The per-frame image is read the same way: a record without one fails alone.
  const vision = {
    imageSize: 4,
    embed: async (images: readonly unknown[]) => images.map(() => ({ embeds: f32(3, 4), hidden: f32(), tokens: 0, dim: 0 })),
  } as unknown as ClipVision;
  const chw = { data: new Float32Array(3 * 2 * 2), channels: 3, height: 2, width: 2 };
  const image = { rgb: { data: new Uint8Array(12), width: 2, height: 2 }, sam2Input: chw, clipFrame: planesOf(chw), clipInput: chw };
  const segmented = (): ObjectState[] => [{ ...base(0), state: 'segmented' }];
  const [withImage, without] = await through(
    [record('g', new Uint8Array(0), { objects: segmented(), image }), record('h', new Uint8Array(0), { objects: segmented() })],
    cropEmbedStage({ clipVision: vision, crop: DEFAULT_CROP, batch }),
  );
  t.deepEqual(states(withImage!), ['embedded']);
  const emb = withImage!.objects![0]!;
  t.deepEqual(emb.state === 'embedded' ? Array.from(emb.embedding, (x) => Number(x.toFixed(6))) : [], [0.6, 0.8]);
  t.is(without!.error?.code, 'internal');
  t.regex(without!.error?.message ?? '', /embed expects a decoded image, found none/);
});

test('the object-guided chain hands each stage the state it reads and ends with labelled, unit-length embeddings', async (t) => {
  const models = await openModelSet(await readBundle(DEFAULT_BUNDLE));
  t.teardown(() => models.dispose());
  const m = models.bundle.manifest;
  const head = requireHead(models);
  const labels = await LabelSet.create(models.clipText, m.labels);
  // The bundle's parity frames: shapes-val images, each object prompted by one click.
  const parity = JSON.parse(await readFile(join(DEFAULT_BUNDLE, 'parity.json'), 'utf8')) as {
    frames: { image_path: string; objects: { point: [number, number] }[] }[];
  };
  const frames = parity.frames.slice(0, 3);
  const records = await Promise.all(
    frames.map(async (f, i) =>
      record(String(i), new Uint8Array(await readFile(join(SHAPES_VAL, f.image_path))), {
        prompts: f.objects.map((o): Sam2Prompt => ({ points: [o.point], labels: [1] })),
      }),
    ),
  );
  const seen: [string, ObjectStateName[]][] = [];
  const after = (name: string) => tap((r: FrameRecord) => seen.push([name, [...new Set(states(r))]]));
  const out = await through(
    records,
    decodeStage({
      ...defaultDecodeLimits,
      sam2: { size: m.sam2.input_size, ...models.sam2Norm },
      clip: { size: m.clip.image_size, ...models.clipNorm },
      concurrency: 1,
    }),
    sam2Stage({ model: models.sam2, mode: 'prompted', automatic: samAutomaticDefaults, batch }),
    after('sam2'),
    branchesStage({ head, clipVision: models.clipVision, batch }),
    after('branches'),
    fusionStage({ head, batch }),
    after('fusion'),
    projectionStage({ head, batch }),
    after('projection'),
    similarityStage({ labels, score: 'softmax', logitScale: m.head?.logit_scale ?? 100, scoreThreshold: 0, topK: 3, maskNmsThresh: 0.5 }),
    after('similarity'),
  );
  t.deepEqual(
    seen.filter(([, s]) => s.length !== 1).map(([stage]) => stage),
    [],
    'every object of a frame is in one state',
  );
  t.deepEqual(
    [...new Set(seen.map(([stage, s]) => `${stage}: ${s.join()}`))],
    ['sam2: segmented', 'branches: branched', 'fusion: fused', 'projection: embedded', 'similarity: labelled'],
  );
  let objects = 0;
  for (const [i, r] of out.entries()) {
    t.is(r.error, undefined);
    t.is(r.objects?.length, frames[i]!.objects.length);
    for (const o of r.objects ?? []) {
      if (o.state !== 'labelled') {
        t.fail(`object ${o.index} of frame ${r.frameId} ended in state ${o.state}`);
        continue;
      }
      objects++;
      t.true(Math.abs(Math.sqrt(dot(o.embedding, o.embedding)) - 1) < 1e-5, `|embedding| = ${Math.sqrt(dot(o.embedding, o.embedding))}`);
      t.is(o.labels.length, 3);
    }
  }
  t.true(objects >= 2);
});
