import test from 'ava';
import { Subject, firstValueFrom } from 'rxjs';
import { batchBySizeAndTime } from '../../src/operators/batch-by-size-and-time.js';
import { ConfigError } from '../../src/errors.js';
import { countingScheduler, marbles } from './virtual-time.js';

// Marbles: one character is one virtual millisecond.

test('size: full batches as soon as they fill, the rest flushed on complete, order kept', (t) => {
  const ts = marbles(t);
  ts.run(({ cold, expectObservable, expectSubscriptions }) => {
    const src = cold('-a-b-c-d-e|');
    expectObservable(src.pipe(batchBySizeAndTime({ maxSize: 2, maxWaitMs: 100, scheduler: ts }))).toBe('---x---y--(z|)', {
      x: ['a', 'b'],
      y: ['c', 'd'],
      z: ['e'],
    });
    expectSubscriptions(src.subscriptions).toBe('^---------!');
  });
});

test('time: a lone value is flushed once it waited maxWaitMs, not before', (t) => {
  const ts = marbles(t);
  ts.run(({ hot, expectObservable }) => {
    const src = hot('--a---------|');
    expectObservable(src.pipe(batchBySizeAndTime({ maxSize: 100, maxWaitMs: 5, scheduler: ts }))).toBe('-------x----|', { x: ['a'] });
  });
});

test('time: the wait counts from the first item of a batch, not the latest', (t) => {
  const ts = marbles(t);
  ts.run(({ cold, expectObservable }) => {
    const src = cold('a-b--c------|');
    expectObservable(src.pipe(batchBySizeAndTime({ maxSize: 10, maxWaitMs: 4, scheduler: ts }))).toBe('----x----y--|', {
      x: ['a', 'b'],
      y: ['c'],
    });
  });
});

test('time: a batch flushed by size cancels its timer, so the next batch gets its full wait', (t) => {
  const ts = marbles(t);
  const counted = countingScheduler(ts);
  ts.run(({ cold, expectObservable }) => {
    // a, b fill a batch at 1; c at 3 must wait until 3 + 5, not be cut at 0 + 5 by a's timer.
    const src = cold('ab-c-------|');
    expectObservable(src.pipe(batchBySizeAndTime({ maxSize: 2, maxWaitMs: 5, scheduler: counted.scheduler }))).toBe('-x------y--|', {
      x: ['a', 'b'],
      y: ['c'],
    });
  });
  t.is(counted.scheduled(), 2);
  t.is(counted.ran(), 1, "only c's timer fired");
});

test('completion flushes the partial batch and cancels its timer', (t) => {
  const ts = marbles(t);
  const counted = countingScheduler(ts);
  ts.run(({ cold, expectObservable }) => {
    const src = cold('-a-b|');
    expectObservable(src.pipe(batchBySizeAndTime({ maxSize: 5, maxWaitMs: 100, scheduler: counted.scheduler }))).toBe('----(x|)', {
      x: ['a', 'b'],
    });
  });
  t.is(counted.ran(), 0, 'no timer fires after completion');
});

test('an empty source completes without emitting an empty batch', (t) => {
  const ts = marbles(t);
  ts.run(({ cold, expectObservable }) => {
    expectObservable(cold('---|').pipe(batchBySizeAndTime({ maxSize: 3, maxWaitMs: 1, scheduler: ts }))).toBe('---|');
  });
});

test('source error: buffered items are flushed, then the error is passed on', (t) => {
  const ts = marbles(t);
  const counted = countingScheduler(ts);
  ts.run(({ cold, expectObservable }) => {
    const src = cold('-a-b#', undefined, new Error('boom'));
    expectObservable(src.pipe(batchBySizeAndTime({ maxSize: 5, maxWaitMs: 1000, scheduler: counted.scheduler }))).toBe(
      '----(x#)',
      { x: ['a', 'b'] },
      new Error('boom'),
    );
  });
  t.is(counted.ran(), 0, 'no timer fires after the error');
});

test('early unsubscribe: the source is unsubscribed and the pending wait never fires', (t) => {
  const ts = marbles(t);
  const counted = countingScheduler(ts);
  ts.run(({ hot, expectObservable, expectSubscriptions }) => {
    // a's flush is due at 1 + 5 = 6; the subscriber leaves at 3.
    const src = hot('-a--------');
    expectObservable(src.pipe(batchBySizeAndTime({ maxSize: 10, maxWaitMs: 5, scheduler: counted.scheduler })), '^--!').toBe('----');
    expectSubscriptions(src.subscriptions).toBe('^--!');
  });
  t.is(counted.scheduled(), 1, "a's wait was scheduled");
  t.is(counted.ran(), 0, 'and cancelled with the subscription');
});

test('without a scheduler the wait runs on the real clock (asyncScheduler)', async (t) => {
  const src = new Subject<number>();
  const first = firstValueFrom(src.pipe(batchBySizeAndTime({ maxSize: 100, maxWaitMs: 5 })));
  src.next(1);
  src.next(2);
  t.deepEqual(await first, [1, 2]);
  src.complete();
});

test('options are validated when the operator is built', (t) => {
  t.throws(() => batchBySizeAndTime({ maxSize: 0, maxWaitMs: 1 }), { instanceOf: ConfigError, message: /maxSize/ });
  t.throws(() => batchBySizeAndTime({ maxSize: 1, maxWaitMs: -1 }), { instanceOf: ConfigError, message: /maxWaitMs/ });
});
