import test from 'ava';
import { retry, type RetryOptions } from '../../src/operators/retry.js';
import { OgclipError } from '../../src/errors.js';

const fast = (extra: Partial<RetryOptions> = {}): RetryOptions => ({ retries: 3, initialDelayMs: 1, maxDelayMs: 2, ...extra });

test('a transient failure is retried and the call succeeds', async (t) => {
  let calls = 0;
  const out = await retry(async () => {
    calls++;
    if (calls < 3) throw new OgclipError('broker busy', { retriable: true });
    return 'written';
  }, fast());
  t.is(out, 'written');
  t.is(calls, 3);
});

test('a non-retriable OgclipError is thrown at once, fn called exactly once', async (t) => {
  let calls = 0;
  const err = new OgclipError('bad config', { retriable: false });
  const thrown = await t.throwsAsync(
    retry(async () => {
      calls++;
      throw err;
    }, fast()),
  );
  t.is(thrown, err);
  t.is(calls, 1);
});

test('TypeError and RangeError are programming errors: thrown at once, fn called exactly once', async (t) => {
  for (const err of [new TypeError('x is not a function'), new RangeError('offset out of range')]) {
    let calls = 0;
    const thrown = await t.throwsAsync(
      retry(async () => {
        calls++;
        throw err;
      }, fast()),
    );
    t.is(thrown, err);
    t.is(calls, 1, err.name);
  }
});

test('retries stop after `retries` attempts and the last error is thrown; onRetry sees attempts 1..n', async (t) => {
  let calls = 0;
  const seen: [string, number][] = [];
  const thrown = await t.throwsAsync(
    retry(
      async () => {
        calls++;
        throw new Error(`failure ${calls}`);
      },
      fast({ retries: 3, onRetry: (err, attempt) => seen.push([(err as Error).message, attempt]) }),
    ),
  );
  t.is(calls, 4); // the first call and 3 retries
  t.is(thrown?.message, 'failure 4');
  t.deepEqual(seen, [
    ['failure 1', 1],
    ['failure 2', 2],
    ['failure 3', 3],
  ]);
});

test('retries: 0 calls once and throws', async (t) => {
  let calls = 0;
  await t.throwsAsync(
    retry(
      async () => {
        calls++;
        throw new OgclipError('down', { retriable: true });
      },
      fast({ retries: 0 }),
    ),
    { message: 'down' },
  );
  t.is(calls, 1);
});
