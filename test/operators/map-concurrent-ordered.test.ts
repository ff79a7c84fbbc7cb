import test from 'ava';
import { Observable, Subject, from, lastValueFrom, of, take, tap, toArray } from 'rxjs';
import { mapConcurrentOrdered } from '../../src/operators/map-concurrent-ordered.js';
import { latch } from '../helpers/records.js';
import { marbles } from './virtual-time.js';

// Marbles: one character is one virtual millisecond.

test('marbles: inners of different durations run together and their results come out in input order', (t) => {
  const ts = marbles(t);
  ts.run(({ cold, expectObservable, expectSubscriptions }) => {
    const inner: Record<string, ReturnType<typeof cold<string>>> = { a: cold('-----x|'), b: cold('-y|'), c: cold('--z|') };
    const out = cold('(abc|)').pipe(mapConcurrentOrdered((k: string) => inner[k]!, 3));
    // y and z are ready at 1 and 2 but wait for x; all three come out when a completes at 6.
    expectObservable(out).toBe('-----x(yz|)');
    expectSubscriptions(inner.a!.subscriptions).toBe('^-----!');
    expectSubscriptions(inner.b!.subscriptions).toBe('^-!');
    expectSubscriptions(inner.c!.subscriptions).toBe('^--!');
  });
});

test('marbles: never more than `concurrency` inners subscribed; the next starts when one completes', (t) => {
  const ts = marbles(t);
  ts.run(({ cold, expectObservable, expectSubscriptions }) => {
    const inner: Record<string, ReturnType<typeof cold<string>>> = {
      a: cold('---a|'),
      b: cold('---b|'),
      c: cold('---c|'),
      d: cold('---d|'),
    };
    const out = cold('(abcd|)').pipe(mapConcurrentOrdered((k: string) => inner[k]!, 2));
    expectObservable(out).toBe('---ab--c(d|)');
    expectSubscriptions(inner.a!.subscriptions).toBe('^---!');
    expectSubscriptions(inner.b!.subscriptions).toBe('^---!');
    expectSubscriptions(inner.c!.subscriptions).toBe('----^---!');
    expectSubscriptions(inner.d!.subscriptions).toBe('----^---!');
  });
});

test('marbles: an inner error errors the stream and unsubscribes the other inners', (t) => {
  const ts = marbles(t);
  ts.run(({ cold, expectObservable, expectSubscriptions }) => {
    const inner: Record<string, ReturnType<typeof cold<string>>> = {
      a: cold('---#', undefined, new Error('bad item')),
      b: cold('-----x|'),
    };
    const out = cold('(ab|)').pipe(mapConcurrentOrdered((k: string) => inner[k]!, 2));
    expectObservable(out).toBe('---#', undefined, new Error('bad item'));
    expectSubscriptions(inner.b!.subscriptions).toBe('^--!');
  });
});

test('marbles: a source error is passed on and stops the work in flight', (t) => {
  const ts = marbles(t);
  ts.run(({ cold, expectObservable, expectSubscriptions }) => {
    const inner = cold('-----x|');
    const out = cold('-a--#', undefined, new Error('source broke')).pipe(mapConcurrentOrdered(() => inner, 1));
    expectObservable(out).toBe('----#', undefined, new Error('source broke'));
    expectSubscriptions(inner.subscriptions).toBe('-^--!');
  });
});

test('marbles: early unsubscribe stops the inner in flight and starts no waiting item', (t) => {
  const ts = marbles(t);
  const projected: string[] = [];
  let produced = 0;
  let inner: Record<string, Observable<string>> = {};
  ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
    const a = cold('----x|');
    inner = { a, b: cold('----y|') };
    const src = hot('-ab-------');
    const out = src.pipe(
      mapConcurrentOrdered((k: string) => {
        projected.push(k);
        return inner[k]!.pipe(tap(() => produced++));
      }, 1),
    );
    // a's result is due at 1 + 4 = 5, b waits behind it; the subscriber leaves at 3.
    expectObservable(out, '^--!').toBe('-');
    expectSubscriptions(src.subscriptions).toBe('^--!');
    expectSubscriptions(a.subscriptions).toBe('-^-!');
  });
  t.deepEqual(projected, ['a'], 'b was never started');
  t.is(produced, 0, "a's inner produced nothing after the unsubscribe");
});

test("marbles: a subscriber that leaves during an inner's synchronous emission stops that inner", (t) => {
  const ts = marbles(t);
  ts.run(({ cold, expectObservable, expectSubscriptions }) => {
    const tail = cold('---z|');
    // Emits at once, then goes on with work of its own: take(1) unsubscribes while it is subscribing.
    const inner = (k: string) =>
      new Observable<string>((s) => {
        s.next(k);
        return tail.subscribe(s);
      });
    const src = cold('-a');
    expectObservable(src.pipe(mapConcurrentOrdered(inner, 2), take(1))).toBe('-(a|)');
    expectSubscriptions(src.subscriptions).toBe('^!');
    expectSubscriptions(tail.subscriptions).toBe('-(^!)');
  });
});

test('a subscriber that leaves during a synchronous source starts no further item', (t) => {
  const projected: string[] = [];
  const out: string[] = [];
  of('a', 'b', 'c')
    .pipe(
      mapConcurrentOrdered((k: string) => {
        projected.push(k);
        return of(k);
      }, 2),
      take(1),
    )
    .subscribe((v) => out.push(v));
  t.deepEqual(out, ['a']);
  t.deepEqual(projected, ['a']);
});

test('promises: results come out in input order even when later items finish first', async (t) => {
  const gates = [latch(), latch(), latch()];
  const out = lastValueFrom(
    from([0, 1, 2]).pipe(
      mapConcurrentOrdered(async (i) => {
        await gates[i]!.promise;
        return i * 10;
      }, 3),
      toArray(),
    ),
  );
  gates[2]!.open();
  gates[1]!.open();
  gates[0]!.open();
  t.deepEqual(await out, [0, 10, 20]);
});

test('promises: never more than `concurrency` projects run at once', async (t) => {
  let running = 0;
  let peak = 0;
  const out = await lastValueFrom(
    from(Array.from({ length: 20 }, (_, i) => i)).pipe(
      mapConcurrentOrdered(async (i) => {
        running++;
        peak = Math.max(peak, running);
        await Promise.resolve();
        await Promise.resolve();
        running--;
        return i;
      }, 3),
      toArray(),
    ),
  );
  t.is(out.length, 20);
  t.true(peak <= 3);
  t.true(peak >= 2);
});

test('promises: a rejected project errors the stream', async (t) => {
  await t.throwsAsync(
    lastValueFrom(
      from([1, 2]).pipe(
        mapConcurrentOrdered(async (i) => {
          if (i === 2) throw new Error('bad item');
          return i;
        }, 1),
      ),
    ),
    { message: 'bad item' },
  );
});

test('promises: a source error is passed on', async (t) => {
  const src = new Subject<number>();
  const done = lastValueFrom(src.pipe(mapConcurrentOrdered(async (i) => i, 1)));
  src.error(new Error('source broke'));
  await t.throwsAsync(done, { message: 'source broke' });
});

test('promises: after an early unsubscribe a result that arrives later is dropped and no waiting item starts', async (t) => {
  const gate = latch();
  const seen: number[] = [];
  const started: number[] = [];
  const sub = from([1, 2])
    .pipe(
      mapConcurrentOrdered(async (i) => {
        started.push(i);
        await gate.promise;
        return i;
      }, 1),
    )
    .subscribe((v) => seen.push(v));
  sub.unsubscribe();
  gate.open();
  // Every promise callback chained on the gate runs before the next macrotask.
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(started, [1]);
  t.deepEqual(seen, []);
});
