import test from 'ava';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@lancedb/lancedb';
import { ConfigError } from '../../src/errors.js';
import { indexSink } from '../../src/index/index-sink.js';
import { openObjectIndex } from '../../src/index/object-index.js';
import { fail, type FrameRecord } from '../../src/record.js';
import { dot } from '../../src/tensor/vector.js';
import { CTX, IDENTITY, frame, indexSpec, keysOf, object, rng, tempDir, unitVector, withIndex } from './index-helpers.js';

const DIM = 8;

/** Writes the batches through an index sink (each one `write`), then closes it. */
async function writeAll(
  dir: string,
  batches: FrameRecord[][],
  patch: Record<string, unknown> = {},
  identity = IDENTITY,
  log?: (l: string) => void,
) {
  const sink = await indexSink(indexSpec(dir, patch), identity, 'a photo of {}', log);
  try {
    for (const b of batches) await sink.write(b, { modelName: identity.modelName, modelVersion: identity.modelVersion });
  } finally {
    await sink.close();
  }
}

test('the same frames written twice leave one row per object, updated; the write is visible to a new connection once it resolves', async (t) => {
  const dir = await tempDir(t);
  const r = rng(1);
  const e = [unitVector(DIM, r), unitVector(DIM, r), unitVector(DIM, r)];
  const frames = [frame('cam-a', '1', 1000, [object(0, e[0]!), object(1, e[1]!)]), frame('cam-a', '2', 2000, [object(0, e[2]!)])];
  const sink = await indexSink(indexSpec(dir), IDENTITY, '{}');
  t.teardown(() => sink.close());
  await sink.write(frames, CTX);
  // A fresh connection (as another process would open it) sees the committed rows.
  t.deepEqual(await keysOf(dir), ['cam-a/1/1.0.0/0', 'cam-a/1/1.0.0/1', 'cam-a/2/1.0.0/0']);
  // The replay, with one object relabelled, in one write with a duplicate of frame 2.
  const again = [frame('cam-a', '1', 1000, [object(0, e[0]!, 'relabelled'), object(1, e[1]!)]), frames[1]!, frames[1]!];
  await sink.write(again, CTX);
  await withIndex(dir, async (index) => {
    t.is(await index.count(), 3, 'one row per object after the replay');
    const all = await index.objects();
    t.deepEqual(all.map((o) => o.key).sort(), ['cam-a/1/1.0.0/0', 'cam-a/1/1.0.0/1', 'cam-a/2/1.0.0/0']);
    t.deepEqual(all.find((o) => o.key === 'cam-a/1/1.0.0/0')!.labels, [{ label: 'relabelled', score: 0.800000011920929 }]);
    const row = all.find((o) => o.key === 'cam-a/2/1.0.0/0')!;
    t.is(row.timestamp, 2000);
    t.deepEqual(row.box, [2, 2, 6, 6]);
    t.deepEqual(row.mask, { size: [8, 8], counts: [18, 4, 4, 4, 4, 4, 4, 4, 18] });
    t.deepEqual(row.origin, { kind: 'dataset', path: '/data/2.png', index: 2 });
    t.is(index.modelVersion, 'test-model@1.0.0');
    t.is(index.manifest.labelTemplate, '{}');
    t.deepEqual([...(all.find((o) => o.key === 'cam-a/1/1.0.0/1') as unknown as { embedding: Float32Array }).embedding], [...e[1]!]);
  });
});

test('an open index sees rows other writers commit later (read consistency)', async (t) => {
  const dir = await tempDir(t);
  const r = rng(8);
  await writeAll(dir, [[frame('s', '1', 1, [object(0, unitVector(DIM, r))])]]);
  const index = await openObjectIndex({ uri: dir, readConsistencySeconds: 0 });
  t.teardown(() => index.close());
  t.is(await index.count(), 1);
  await writeAll(dir, [[frame('s', '2', 1, [object(0, unitVector(DIM, r)), object(1, unitVector(DIM, r))])]]);
  t.is(await index.count(), 3);
  t.is((await index.search(unitVector(DIM, r), {}, 10)).length, 3);
});

test('a replay that finds fewer objects removes the others; a frame without objects adds no row; a failed frame leaves its rows', async (t) => {
  const dir = await tempDir(t);
  const r = rng(2);
  const three = (id: string) =>
    frame(
      's',
      id,
      1,
      [0, 1, 2].map((i) => object(i, unitVector(DIM, r))),
    );
  await writeAll(dir, [[three('1'), three('2'), three('3'), frame('s', '4', 1, [])]]);
  t.is((await keysOf(dir)).length, 9, 'the frame without objects has no row');
  const failed = fail(three('3'), 'sam2', 'inference-failed', 'boom');
  // Frame 1 now finds one object, frame 2 none, frame 3 fails: its rows stay.
  await writeAll(dir, [[frame('s', '1', 1, [object(0, unitVector(DIM, r))]), frame('s', '2', 1, []), failed]]);
  t.deepEqual(await keysOf(dir), ['s/1/1.0.0/0', 's/3/1.0.0/0', 's/3/1.0.0/1', 's/3/1.0.0/2']);
});

test('an index of another model version or embedder is refused, naming both versions and what to do', async (t) => {
  const dir = await tempDir(t);
  await writeAll(dir, [[frame('s', '1', 1, [object(0, unitVector(DIM, rng(3)))])]]);
  const other = { ...IDENTITY, modelVersion: '2.0.0' };
  const err = await t.throwsAsync(() => indexSink(indexSpec(dir), other, '{}'), { instanceOf: ConfigError });
  t.regex(
    err!.message,
    /holds objects embedded by test-model@1\.0\.0, but this bundle is test-model@2\.0\.0: one index holds one model version/,
  );
  t.regex(err!.message, /an index of its own \(another path or table\)/);
  const crop = await t.throwsAsync(() => indexSink(indexSpec(dir), { ...IDENTITY, embedder: 'crop' }, '{}'), { instanceOf: ConfigError });
  t.regex(crop!.message, /"object-guided" embeddings of test-model@1\.0\.0, but this bundle uses the "crop" embedder/);
  // The same version in another table of the same folder is fine.
  await writeAll(dir, [[frame('s', '1', 1, [object(0, unitVector(DIM, rng(3)))])]], { table: 'v2' }, other);
  // And a pipeline running another model than the sink was opened for is refused at write.
  const sink = await indexSink(indexSpec(dir), IDENTITY, '{}');
  t.teardown(() => sink.close());
  await t.throwsAsync(() => sink.write([frame('s', '9', 1, [])], { modelName: 'test-model', modelVersion: '2.0.0' }), {
    instanceOf: ConfigError,
    message: /was opened for test-model@1\.0\.0, but the pipeline runs test-model@2\.0\.0/,
  });
});

test('search: cosine similarity, best first; stream and time window filters; count with the same filters', async (t) => {
  const dir = await tempDir(t);
  const r = rng(4);
  const frames: FrameRecord[] = [];
  for (let i = 0; i < 12; i++)
    frames.push(frame(i % 2 ? 'odd' : 'even', String(i), 1000 * i, [object(0, unitVector(DIM, r)), object(1, unitVector(DIM, r))]));
  await writeAll(dir, [frames.slice(0, 6), frames.slice(6)]);
  const query = unitVector(DIM, r);
  const expected = frames
    .flatMap((f) =>
      f.objects!.map((o) => ({
        key: `${f.streamId}/${f.frameId}/1.0.0/${o.index}`,
        stream: f.streamId,
        ts: f.timestamp,
        sim: dot(query, o.state === 'labelled' ? o.embedding : new Float32Array(DIM)),
      })),
    )
    .sort((a, b) => b.sim - a.sim);
  await withIndex(dir, async (index) => {
    const hits = await index.search(query, {}, 5);
    t.deepEqual(
      hits.map((h) => h.key),
      expected.slice(0, 5).map((e) => e.key),
    );
    hits.forEach((h, i) => t.true(Math.abs(h.score - expected[i]!.sim) < 1e-5, `${h.key}: score ${h.score}, cosine ${expected[i]!.sim}`));
    const odd = await index.search(query, { stream: 'odd' }, 100);
    t.deepEqual(
      odd.map((h) => h.key),
      expected.filter((e) => e.stream === 'odd').map((e) => e.key),
    );
    const window = await index.search(query, { since: 3000, until: 7000 }, 100);
    t.deepEqual(
      window.map((h) => h.key),
      expected.filter((e) => e.ts >= 3000 && e.ts < 7000).map((e) => e.key),
    );
    t.is(await index.count({ stream: 'even', since: 4000 }), expected.filter((e) => e.stream === 'even' && e.ts >= 4000).length);
    t.is((await index.search(query, { stream: "no'such" }, 5)).length, 0, 'a quote in a filter value is a literal');
    await t.throwsAsync(() => index.search(new Float32Array(3), {}, 5), {
      instanceOf: ConfigError,
      message: /query vector has 3 values, the index holds 8/,
    });
  });
});

test('a missing, foreign or damaged index is a ConfigError saying what it is', async (t) => {
  const dir = await tempDir(t);
  await t.throwsAsync(() => openObjectIndex(join(dir, 'nothing-here')), {
    instanceOf: ConfigError,
    message: /no such index\. Build one by running a topology with an index sink/,
  });
  const db = await connect(join(dir, 'foreign'));
  (await db.createTable('objects', [{ id: 1, vector: [0, 1] }])).close();
  db.close();
  await t.throwsAsync(() => openObjectIndex(join(dir, 'foreign')), { instanceOf: ConfigError, message: /not an ogclip object index/ });
  const damaged = join(dir, 'damaged', 'objects.lance', '_versions');
  await mkdir(damaged, { recursive: true });
  await writeFile(join(damaged, '1.manifest'), 'not a manifest');
  const err = await t.throwsAsync(() => openObjectIndex(join(dir, 'damaged')), { instanceOf: ConfigError });
  t.regex(err!.message, /damaged/);
});

test('three writers on one index at once, on the same frames: every object once', async (t) => {
  const dir = await tempDir(t);
  // The table exists before the race, as after a first run (its creation is covered above).
  await writeAll(dir, [[frame('s', 'seed', 1, [object(0, unitVector(DIM, rng(5)))])]]);
  const r = rng(6);
  const frames = Array.from({ length: 30 }, (_, i) =>
    frame('s', String(i), i, [object(0, unitVector(DIM, r)), object(1, unitVector(DIM, r))]),
  );
  const batches = Array.from({ length: 10 }, (_, b) => frames.slice(b * 3, b * 3 + 3));
  // Without the primary key on `key`, writers that insert the same new keys at once each insert them.
  await Promise.all([writeAll(dir, batches), writeAll(dir, batches), writeAll(dir, batches)]);
  const keys = await keysOf(dir);
  t.is(keys.length, 61);
  t.is(new Set(keys).size, 61);
});

test('the IVF-PQ index is built once the table has ann.minRows; every object is still found first by its own embedding', async (t) => {
  const dir = await tempDir(t);
  const r = rng(7);
  const frames = Array.from({ length: 150 }, (_, i) =>
    frame('s', String(i), i, [object(0, unitVector(DIM, r)), object(1, unitVector(DIM, r))]),
  );
  const log: string[] = [];
  const batches = Array.from({ length: 10 }, (_, b) => frames.slice(b * 15, b * 15 + 15));
  await writeAll(
    dir,
    batches,
    { optimizeEveryRows: 100, ann: { minRows: 256, numPartitions: 2, numSubVectors: 2, refineFactor: 50, nprobes: 2 } },
    IDENTITY,
    (l) => log.push(l),
  );
  t.true(
    log.some((l) => /IVF-PQ index built over (2[5-9]\d|300) objects/.test(l)),
    log.join('\n'),
  );
  await withIndex(dir, async (index) => {
    t.is(await index.count(), 300);
    t.is(index.manifest.refineFactor, 50);
    for (const f of frames.slice(0, 20)) {
      const o = f.objects![0]!;
      const [best] = await index.search(o.state === 'labelled' ? o.embedding : new Float32Array(DIM), {}, 1);
      t.is(best?.key, `s/${f.frameId}/1.0.0/0`);
    }
  });
});
