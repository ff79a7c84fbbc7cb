import { Observable, type OperatorFunction } from 'rxjs';
import { ConfigError } from '../errors.js';

export interface BatchOptions {
  readonly maxSize: number; // items per batch
  readonly maxWaitMs: number; // how long the first item of a batch may wait for company
}

/**
 * Groups items into arrays of at most `maxSize`, emitting early when the oldest item has
 * waited `maxWaitMs`. Flushes the partial batch when the source completes; never emits empty.
 */
export function batchBySizeAndTime<T>(options: BatchOptions): OperatorFunction<T, T[]> {
  if (!Number.isInteger(options.maxSize) || options.maxSize < 1)
    throw new ConfigError(`batch maxSize must be an integer >= 1, got ${options.maxSize}`);
  if (!(options.maxWaitMs >= 0)) throw new ConfigError(`batch maxWaitMs must be >= 0, got ${options.maxWaitMs}`);
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let buffer: T[] = [];
      let timer: NodeJS.Timeout | undefined;
      const flush = () => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (buffer.length === 0) return;
        const out = buffer;
        buffer = [];
        subscriber.next(out);
      };
      const sub = source.subscribe({
        next: (item) => {
          buffer.push(item);
          if (buffer.length >= options.maxSize) flush();
          else if (!timer) timer = setTimeout(flush, options.maxWaitMs);
        },
        error: (err) => {
          flush();
          subscriber.error(err);
        },
        complete: () => {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        if (timer) clearTimeout(timer);
        sub.unsubscribe();
      };
    });
}
