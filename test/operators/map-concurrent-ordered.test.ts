import test from 'ava';
import { Subject, from, lastValueFrom, toArray } from 'rxjs';
import { mapConcurrentOrdered } from '../../src/operators/map-concurrent-ordered.js';
import { latch } from '../helpers/records.js';

test('results come out in input order even when later items finish first', async (t) => {
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

test('never more than `concurrency` projects run at once', async (t) => {
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

test('a rejected project errors the stream', async (t) => {
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

test('source error is passed on', async (t) => {
  const src = new Subject<number>();
  const done = lastValueFrom(src.pipe(mapConcurrentOrdered(async (i) => i, 1)));
  src.error(new Error('source broke'));
  await t.throwsAsync(done, { message: 'source broke' });
});

test('early unsubscribe: results that finish later are not emitted', async (t) => {
  const gate = latch();
  const seen: number[] = [];
  const sub = from([1])
    .pipe(
      mapConcurrentOrdered(async (i) => {
        await gate.promise;
        return i;
      }, 1),
    )
    .subscribe((v) => seen.push(v));
  sub.unsubscribe();
  gate.open();
  await gate.promise;
  await Promise.resolve();
  t.deepEqual(seen, []);
});
