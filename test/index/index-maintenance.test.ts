import test from 'ava';
import { IndexWriter } from '../../src/index/index-writer.js';
import { indexBatch } from '../../src/index/index-row.js';
import { CTX, IDENTITY, frame, keysOf, object, rng, tempDir, unitVector, withIndex } from './index-helpers.js';

const DIM = 8;

test('maintenance (compaction, the IVF-PQ build) runs beside the writes: the write that makes it due returns first, and writes go on while it runs', async (t) => {
  const dir = await tempDir(t);
  const r = rng(11);
  const log: string[] = [];
  const writer = await IndexWriter.open({
    location: { uri: dir },
    identity: IDENTITY,
    labelTemplate: '{}',
    ann: { minRows: 256, numPartitions: 2, numSubVectors: 2, numBits: 8, nprobes: 2, refineFactor: 10 },
    optimizeEveryRows: 300,
    log: (l) => log.push(l),
  });
  t.teardown(() => writer.close());
  const batch = (from: number) =>
    indexBatch(
      Array.from({ length: 75 }, (_, i) =>
        frame('s', String(from + i), from + i, [object(0, unitVector(DIM, r)), object(1, unitVector(DIM, r))]),
      ),
      CTX,
    ); // 150 rows
  await writer.write(batch(0));
  t.is(writer.maintaining, undefined, 'not due yet');
  await writer.write(batch(75)); // 300 rows: due
  const running = writer.maintaining;
  t.truthy(running, 'the write returned while its maintenance still runs');
  await writer.write(batch(150)); // a write while it runs
  await running;
  t.true(
    log.some((l) => /IVF-PQ index built over (300|450) objects/.test(l)),
    log.join('\n'),
  );
  await writer.close();
  t.is((await keysOf(dir)).length, 450);
  await withIndex(dir, async (index) => t.is(await index.count({ stream: 's' }), 450));
});

test("LanceDB's caches stay within cacheMb over many writes (its own defaults let them grow with every version)", async (t) => {
  const r = rng(5);
  const writeMany = async (cacheMb: { index: number; metadata: number }) => {
    const dir = await tempDir(t);
    const writer = await IndexWriter.open({
      location: { uri: dir, cacheMb },
      identity: IDENTITY,
      labelTemplate: '{}',
      ann: { minRows: 100_000, numPartitions: 0, numSubVectors: 0, numBits: 8, nprobes: 20, refineFactor: 10 },
      optimizeEveryRows: 0, // no compaction: every write leaves a fragment and a version, as between maintenances
    });
    const held: number[] = [];
    try {
      for (let f = 0; f < 150; f++) {
        await writer.write(indexBatch([frame('s', String(f), f, [object(0, unitVector(DIM, r))])], CTX));
        if (f % 25 === 24) held.push(writer.cacheBytes());
      }
    } finally {
      await writer.close();
    }
    return held;
  };
  const bounded = await writeMany({ index: 1, metadata: 1 });
  t.true(
    bounded.every((b) => b <= 2 << 20),
    `held ${bounded.join(', ')} bytes`,
  );
  // The same writes with room to grow: the caches do grow past that bound.
  const roomy = await writeMany({ index: 64, metadata: 64 });
  t.true(roomy.at(-1)! > 2 << 20, `held ${roomy.join(', ')} bytes`);
});

test('close waits for the writes and the maintenance under way, refuses later writes, and is the same promise when called again', async (t) => {
  const dir = await tempDir(t);
  const r = rng(13);
  const writer = await IndexWriter.open({
    location: { uri: dir },
    identity: IDENTITY,
    labelTemplate: '{}',
    ann: { minRows: 100_000, numPartitions: 0, numSubVectors: 0, numBits: 8, nprobes: 20, refineFactor: 10 },
    optimizeEveryRows: 10,
  });
  const batch = (from: number) =>
    indexBatch(
      Array.from({ length: 10 }, (_, i) => frame('s', String(from + i), from + i, [object(0, unitVector(DIM, r))])),
      CTX,
    );
  await writer.write(batch(0)); // 10 rows: a maintenance starts in the background
  const order: string[] = [];
  const inFlight = writer.write(batch(10)).then(() => order.push('write'));
  const closing = writer.close();
  t.is(writer.close(), closing);
  await closing.then(() => order.push('close'));
  await inFlight;
  t.deepEqual(order, ['write', 'close']);
  t.is(writer.maintaining, undefined);
  await t.throwsAsync(writer.write(batch(20)), { message: /the index writer is closed/ });
  t.is((await keysOf(dir)).length, 20);
});
