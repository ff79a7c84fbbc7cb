import test from 'ava';
import { Subject, firstValueFrom, from, lastValueFrom, of, throwError, toArray, concat } from 'rxjs';
import { batchBySizeAndTime } from '../../src/operators/batch-by-size-and-time.js';
import { ConfigError } from '../../src/errors.js';

test('values: full batches by size, the rest flushed on complete, order kept', async (t) => {
  const out = await lastValueFrom(from([1, 2, 3, 4, 5]).pipe(batchBySizeAndTime({ maxSize: 2, maxWaitMs: 10_000 }), toArray()));
  t.deepEqual(out, [[1, 2], [3, 4], [5]]);
});

test('time: a partial batch is emitted once its first item waited maxWaitMs', async (t) => {
  const src = new Subject<number>();
  const first = firstValueFrom(src.pipe(batchBySizeAndTime({ maxSize: 100, maxWaitMs: 5 })));
  src.next(1);
  src.next(2);
  t.deepEqual(await first, [1, 2]);
  src.complete();
});

test('empty source completes without emitting an empty batch', async (t) => {
  t.deepEqual(await lastValueFrom(of<number>().pipe(batchBySizeAndTime({ maxSize: 3, maxWaitMs: 1 }), toArray())), []);
});

test('source error: buffered items are flushed, then the error is passed on', async (t) => {
  const seen: number[][] = [];
  const err = await t.throwsAsync(
    lastValueFrom(
      concat(
        of(1, 2),
        throwError(() => new Error('boom')),
      ).pipe(batchBySizeAndTime({ maxSize: 5, maxWaitMs: 1000 })),
    ).catch((e) => {
      throw e;
    }),
  );
  t.is(err?.message, 'boom');
  const sub = concat(
    of(1, 2),
    throwError(() => new Error('boom')),
  )
    .pipe(batchBySizeAndTime({ maxSize: 5, maxWaitMs: 1000 }))
    .subscribe({ next: (b) => seen.push(b), error: () => {} });
  sub.unsubscribe();
  t.deepEqual(seen, [[1, 2]]);
});

test('early unsubscribe cancels the pending timer (no emission afterwards)', async (t) => {
  const src = new Subject<number>();
  const seen: number[][] = [];
  const sub = src.pipe(batchBySizeAndTime({ maxSize: 10, maxWaitMs: 1 })).subscribe((b) => seen.push(b));
  src.next(1);
  sub.unsubscribe();
  await new Promise((r) => setTimeout(r, 5)); // longer than maxWaitMs: the timer must not fire
  t.deepEqual(seen, []);
});

test('options are validated when the operator is built', (t) => {
  t.throws(() => batchBySizeAndTime({ maxSize: 0, maxWaitMs: 1 }), { instanceOf: ConfigError, message: /maxSize/ });
  t.throws(() => batchBySizeAndTime({ maxSize: 1, maxWaitMs: -1 }), { instanceOf: ConfigError, message: /maxWaitMs/ });
});
