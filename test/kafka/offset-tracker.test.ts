import test from 'ava';
import { OffsetTracker } from '../../src/kafka/offset-tracker.js';

test('commits only past offsets whose predecessors are all done, and each position once', (t) => {
  const k = new OffsetTracker();
  for (const o of ['5', '6', '7', '9']) k.track(o); // 8 is a gap (compaction, markers)
  t.is(k.committable(), undefined, 'nothing done yet');
  k.done('6');
  t.is(k.committable(), undefined, '5 is still in flight');
  k.done('5');
  t.is(k.committable(), '7');
  k.committed('7');
  t.is(k.committable(), undefined, 'already committed');
  k.done('9');
  t.is(k.committable(), undefined, '7 still in flight holds the position (already committed)');
  k.done('7');
  t.is(k.committable(), '10', 'the gap at 8 needs nothing');
});

test('a commit that failed is offered again', (t) => {
  const k = new OffsetTracker();
  k.track('0');
  k.done('0');
  t.is(k.committable(), '1');
  t.is(k.committable(), '1', 'not marked committed: still offered');
  k.committed('1');
  t.is(k.committable(), undefined);
});
