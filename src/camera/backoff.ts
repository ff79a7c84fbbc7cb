import { ConfigError } from '../errors.js';

export interface BackoffOptions {
  /** Delay before the first retry (before jitter). */
  readonly initialMs: number;
  /** The cap: no delay exceeds it. */
  readonly maxMs: number;
}

/** Checks the options once, at build, so a bad flag fails before anything connects. */
export function checkBackoff(o: BackoffOptions, what: string): BackoffOptions {
  if (!Number.isFinite(o.initialMs) || o.initialMs <= 0)
    throw new ConfigError(`${what}: the initial retry delay must be > 0 ms, got ${o.initialMs}`);
  if (!Number.isFinite(o.maxMs) || o.maxMs < o.initialMs) {
    throw new ConfigError(`${what}: the largest retry delay must be >= the initial one (${o.initialMs} ms), got ${o.maxMs}`);
  }
  return o;
}

/**
 * The delay before retry `attempt` (1, 2, ...): exponential, `initialMs * 2^(attempt-1)` capped at
 * `maxMs`, then "equal jitter": uniform in [half of it, all of it]. The jitter spreads the
 * reconnects of many bridges that lost the same camera server at once; keeping the lower half
 * out keeps each one backing off.
 */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(o.maxMs, o.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + (random() * base) / 2);
}
