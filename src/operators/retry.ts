import { setTimeout as sleep } from 'node:timers/promises';
import { OgclipError } from '../errors.js';

export interface RetryOptions {
  readonly retries: number; // attempts after the first
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly onRetry?: (err: unknown, attempt: number) => void;
}

/**
 * Retries with exponential backoff and full jitter. Programming errors (TypeError, RangeError)
 * and errors marked non-retriable are never retried.
 */
export async function retry<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const fatal = err instanceof TypeError || err instanceof RangeError || (err instanceof OgclipError && !err.retriable);
      if (fatal || attempt >= o.retries) throw err;
      o.onRetry?.(err, attempt + 1);
      const cap = Math.min(o.maxDelayMs, o.initialDelayMs * 2 ** attempt);
      await sleep(Math.random() * cap);
    }
  }
}
