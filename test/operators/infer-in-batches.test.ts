import test from 'ava';
import { Subject, VirtualTimeScheduler, from, lastValueFrom, toArray } from 'rxjs';
import { inferInBatches } from '../../src/operators/infer-in-batches.js';
import { fail, type FrameRecord } from '../../src/record.js';
import { latch, record } from '../helpers/records.js';

/** Moves a virtual clock forward by `ms`, running what falls due on the way (a no-op marks the target). */
function advance(clock: VirtualTimeScheduler, ms: number): void {
  clock.schedule(() => {}, ms);
  clock.maxFrames = clock.frame + ms;
  clock.flush();
}

test('a throwing batch marks its records failed and the stream goes on', async (t) => {
  const recs = ['1', '2', '3', '4'].map((id) => record(id));
  const out = await lastValueFrom(
    from(recs).pipe(
      inferInBatches({
        stage: 'sam2',
        maxSize: 2,
        maxWaitMs: 1000,
        concurrency: 1,
        run: async (batch) => {
          if (batch.some((r) => r.frameId === '1')) throw new Error('model exploded');
          for (const r of batch) r.objects = [];
        },
      }),
      toArray(),
    ),
  );
  t.deepEqual(
    out.map((r) => r.frameId),
    ['1', '2', '3', '4'],
  );
  t.deepEqual(
    out.map((r) => r.error?.code ?? 'ok'),
    ['inference-failed', 'inference-failed', 'ok', 'ok'],
  );
  t.regex(out[0]!.error!.message, /model exploded/);
});

test('records that already failed are passed along without being run', async (t) => {
  const bad = fail(record('x'), 'decode', 'corrupt-image', 'bad bytes');
  const seen: string[] = [];
  const out = await lastValueFrom(
    from([bad, record('y')]).pipe(
      inferInBatches({
        stage: 'sam2',
        maxSize: 4,
        maxWaitMs: 1,
        concurrency: 1,
        run: async (b) => void seen.push(...b.map((r) => r.frameId)),
      }),
      toArray(),
    ),
  );
  t.deepEqual(seen, ['y']);
  t.is(out[0]!.error?.stage, 'decode');
});

test('with a scheduler: the batch waits maxWaitMs of its time from the first record, and timings are read on its clock', async (t) => {
  // run() is a promise, so this steps a virtual clock by hand rather than through marbles.
  const clock = new VirtualTimeScheduler();
  const src = new Subject<FrameRecord>();
  const batches: string[][] = [];
  const finish = latch();
  const out = lastValueFrom(
    src.pipe(
      inferInBatches({
        stage: 'sam2',
        maxSize: 4,
        maxWaitMs: 10,
        concurrency: 1,
        scheduler: clock,
        run: async (b) => {
          batches.push(b.map((r) => r.frameId));
          await finish.promise;
        },
      }),
      toArray(),
    ),
  );
  src.next(record('1'));
  advance(clock, 3);
  src.next(record('2'));
  advance(clock, 6);
  t.deepEqual(batches, [], 'at 9 ms the batch still waits');
  advance(clock, 1);
  t.deepEqual(batches, [['1', '2']], "sent at 10 ms, the first record's wait");
  advance(clock, 8); // the model takes 8 virtual ms
  finish.open();
  src.complete();
  const records = await out;
  t.deepEqual(
    records.map((r) => r.timings.sam2),
    [4, 4],
    'the 8 ms are shared by the two records',
  );
});
