import test from 'ava';
import { Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { LatestFrameBuffer, type DropReason } from '../../src/operators/latest-frame-buffer.js';
import { marbles } from './virtual-time.js';

interface F {
  stream: string;
  n: number;
  at: number;
}

function buffer(now: { t: number }, drops: [F, DropReason][], stalenessMs = 100) {
  return new LatestFrameBuffer<F>({
    stalenessMs,
    streamOf: (f) => f.stream,
    receivedAt: (f) => f.at,
    onDrop: (f, why) => drops.push([f, why]),
    now: () => now.t,
  });
}

test('per stream only the newest waiting frame is kept; superseded ones are reported', async (t) => {
  const now = { t: 0 };
  const drops: [F, DropReason][] = [];
  const b = buffer(now, drops);
  b.offer({ stream: 'a', n: 1, at: 0 });
  b.offer({ stream: 'b', n: 1, at: 0 });
  b.offer({ stream: 'a', n: 2, at: 0 });
  b.end();
  const got: F[] = [];
  for await (const f of b) got.push(f);
  t.deepEqual(
    got.map((f) => `${f.stream}${f.n}`),
    ['b1', 'a2'],
  );
  t.deepEqual(
    drops.map(([f, why]) => `${f.stream}${f.n}:${why}`),
    ['a1:superseded'],
  );
});

test('frames that waited past the staleness budget are dropped as stale when taken', async (t) => {
  const now = { t: 0 };
  const drops: [F, DropReason][] = [];
  const b = buffer(now, drops, 100);
  b.offer({ stream: 'a', n: 1, at: 0 });
  b.offer({ stream: 'b', n: 1, at: 50 });
  now.t = 120;
  b.end();
  const got: F[] = [];
  for await (const f of b) got.push(f);
  t.deepEqual(
    got.map((f) => f.stream),
    ['b'],
  );
  t.deepEqual(
    drops.map(([f, why]) => `${f.stream}:${why}`),
    ['a:stale'],
  );
});

test('an idle consumer wakes up when a frame is offered', async (t) => {
  const b = buffer({ t: 0 }, []);
  const it = b[Symbol.asyncIterator]();
  const next = it.next();
  b.offer({ stream: 'a', n: 7, at: 0 });
  t.is((await next).value?.n, 7);
  b.end();
  t.true((await it.next()).done);
});

/**
 * A pipeline that takes one frame at a time and is busy with it for `busyMs`: frames are offered
 * as they arrive (stamped with the scheduler's clock) and taken whenever it is free. Emits each
 * frame when its processing starts, as `<stream><n>`.
 */
function busyConsumer(
  arrivals: Observable<Omit<F, 'at'>>,
  buffer: LatestFrameBuffer<F>,
  busyMs: number,
  scheduler: SchedulerLike,
): Observable<string> {
  return new Observable<string>((subscriber) => {
    let work: Subscription | undefined;
    let arrived = false;
    const takeNext = () => {
      if (work) return;
      const f = buffer.take();
      if (f === undefined) {
        if (arrived) subscriber.complete();
        return;
      }
      subscriber.next(`${f.stream}${f.n}`);
      work = scheduler.schedule(() => {
        work = undefined;
        takeNext();
      }, busyMs);
    };
    const sub = arrivals.subscribe({
      next: (f) => {
        buffer.offer({ ...f, at: scheduler.now() });
        takeNext();
      },
      error: (err) => subscriber.error(err),
      complete: () => {
        arrived = true;
        buffer.end();
        takeNext();
      },
    });
    return () => {
      sub.unsubscribe();
      work?.unsubscribe();
    };
  });
}

const A = (n: number) => ({ stream: 'a', n });
const B = (n: number) => ({ stream: 'b', n });
const dropLog = (drops: [F, DropReason][]) => drops.map(([f, why]) => `${f.stream}${f.n}:${why}`);

test('marbles: while the pipeline is busy older frames are superseded and the newest is taken next', (t) => {
  const ts = marbles(t);
  const drops: [F, DropReason][] = [];
  ts.run(({ hot, expectObservable }) => {
    const b = new LatestFrameBuffer<F>({
      stalenessMs: 100,
      streamOf: (f) => f.stream,
      receivedAt: (f) => f.at,
      onDrop: (f, why) => drops.push([f, why]),
      scheduler: ts,
    });
    // Busy 4 ms per frame: a1 at 1 keeps it busy until 5, a3 until 9, a5 until 13.
    const arrivals = hot('-123--45------|', { 1: A(1), 2: A(2), 3: A(3), 4: A(4), 5: A(5) });
    expectObservable(busyConsumer(arrivals, b, 4, ts)).toBe('-x---y---z----|', { x: 'a1', y: 'a3', z: 'a5' });
  });
  t.deepEqual(dropLog(drops), ['a2:superseded', 'a4:superseded']);
});

test('marbles: streams take turns by the arrival of their newest frame; superseding moves a stream back', (t) => {
  const ts = marbles(t);
  const drops: [F, DropReason][] = [];
  ts.run(({ hot, expectObservable }) => {
    const b = new LatestFrameBuffer<F>({
      stalenessMs: 100,
      streamOf: (f) => f.stream,
      receivedAt: (f) => f.at,
      onDrop: (f, why) => drops.push([f, why]),
      scheduler: ts,
    });
    // Busy until 6: b1 (2) waits, a2 (3) after it, then b2 (4) replaces b1 behind a2.
    const arrivals = hot('-1234-----------|', { 1: A(1), 2: B(1), 3: A(2), 4: B(2) });
    expectObservable(busyConsumer(arrivals, b, 5, ts)).toBe('-x----y----z----|', { x: 'a1', y: 'a2', z: 'b2' });
  });
  t.deepEqual(dropLog(drops), ['b1:superseded']);
});

test('marbles: staleness is measured on the scheduler clock when the frame is taken', (t) => {
  const ts = marbles(t);
  const drops: [F, DropReason][] = [];
  ts.run(({ hot, expectObservable }) => {
    const b = new LatestFrameBuffer<F>({
      stalenessMs: 5,
      streamOf: (f) => f.stream,
      receivedAt: (f) => f.at,
      onDrop: (f, why) => drops.push([f, why]),
      scheduler: ts,
    });
    // Busy until 9: b1 (2) has waited 7 > 5 ms by then and is dropped; a2 (6) waited 3 and goes.
    const arrivals = hot('-12---3------------|', { 1: A(1), 2: B(1), 3: A(2) });
    expectObservable(busyConsumer(arrivals, b, 8, ts)).toBe('-x-------y---------|', { x: 'a1', y: 'a2' });
  });
  t.deepEqual(dropLog(drops), ['b1:stale']);
});
