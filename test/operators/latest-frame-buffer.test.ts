import test from 'ava';
import { LatestFrameBuffer, type DropReason } from '../../src/operators/latest-frame-buffer.js';

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
