import test from 'ava';
import { from, lastValueFrom, toArray } from 'rxjs';
import { inferInBatches } from '../../src/operators/infer-in-batches.js';
import { fail } from '../../src/record.js';
import { record } from '../helpers/records.js';

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
