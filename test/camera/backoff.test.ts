import test from 'ava';
import { backoffDelay, checkBackoff } from '../../src/camera/backoff.js';
import { ConfigError } from '../../src/errors.js';

const o = { initialMs: 500, maxMs: 30_000 };

test('the delay doubles with each attempt up to the cap', (t) => {
  const top = () => 1; // jitter at its top: the whole exponential step
  t.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => backoffDelay(n, o, top)),
    [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
  );
});

test('jitter keeps each delay between half and all of its step', (t) => {
  t.is(
    backoffDelay(3, o, () => 0),
    1000,
  );
  t.is(
    backoffDelay(3, o, () => 0.5),
    1500,
  );
  t.is(
    backoffDelay(30, o, () => 0),
    15000,
  );
  const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(4, o)));
  t.true(seen.size > 1, 'Math.random spreads the delays');
  for (const d of seen) t.true(d >= 2000 && d <= 4000, String(d));
});

test('bad options are configuration errors', (t) => {
  t.throws(() => checkBackoff({ initialMs: 0, maxMs: 10 }, 'camera x'), { instanceOf: ConfigError, message: /initial retry delay/ });
  t.throws(() => checkBackoff({ initialMs: 100, maxMs: 50 }, 'camera x'), { instanceOf: ConfigError, message: /largest retry delay/ });
});
