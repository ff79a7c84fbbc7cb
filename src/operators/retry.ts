import pRetry from 'p-retry';
import { OgclipError } from '../errors.js';

export interface RetryOptions {
  readonly retries: number; // attempts after the first
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly onRetry?: (err: unknown, attempt: number) => void;
}

/** Programming errors (TypeError, RangeError) and errors marked non-retriable. */
function isFatal(err: unknown): boolean {
  return err instanceof TypeError || err instanceof RangeError || (err instanceof OgclipError && !err.retriable);
}

/**
 * Retries with exponential backoff (doubling from `initialDelayMs`, capped at `maxDelayMs`) and
 * jitter (each delay times a random factor in [1, 2], then capped). Programming errors (TypeError,
 * RangeError) and errors marked non-retriable are never retried. `onRetry` is told of each failure
 * that will be retried, with its attempt number (1 for the first call).
 */
export async function retry<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  return pRetry(() => fn(), {
    retries: o.retries,
    factor: 2,
    minTimeout: o.initialDelayMs,
    maxTimeout: o.maxDelayMs,
    randomize: true,
    // p-retry never retries a non-network TypeError itself; this also stops network TypeErrors,
    // RangeErrors and non-retriable OgclipErrors.
    shouldRetry: (error) => !isFatal(error),
    onFailedAttempt: (error) => {
      if (!isFatal(error) && error.retriesLeft > 0) o.onRetry?.(error, error.attemptNumber);
    },
  });
}
