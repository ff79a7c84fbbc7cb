import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { ConfigError } from '../errors.js';

export interface BatchOptions {
  readonly maxSize: number; // items per batch
  readonly maxWaitMs: number; // how long the first item of a batch may wait for company
  /** Clock and timers of the wait; asyncScheduler unless a test drives it in virtual time. */
  readonly scheduler?: SchedulerLike;
}

/**
 * Groups items into arrays of at most `maxSize`, emitting early when the oldest item has
 * waited `maxWaitMs`. Flushes the partial batch when the source completes; never emits empty.
 */
export function batchBySizeAndTime<T>(options: BatchOptions): OperatorFunction<T, T[]> {
  if (!Number.isInteger(options.maxSize) || options.maxSize < 1)
    throw new ConfigError(`batch maxSize must be an integer >= 1, got ${options.maxSize}`);
  if (!(options.maxWaitMs >= 0)) throw new ConfigError(`batch maxWaitMs must be >= 0, got ${options.maxWaitMs}`);
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let buffer: T[] = [];
      let timer: Subscription | undefined;
      const cancelTimer = () => {
        timer?.unsubscribe();
        timer = undefined;
      };
      const flush = () => {
        // A batch flushed by size must not leave its timer to cut the next batch short.
        cancelTimer();
        if (buffer.length === 0) return;
        const out = buffer;
        buffer = [];
        subscriber.next(out);
      };
      const sub = source.subscribe({
        next: (item) => {
          buffer.push(item);
          if (buffer.length >= options.maxSize) flush();
          else if (!timer) timer = scheduler.schedule(flush, options.maxWaitMs);
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
        // Without this the wait would still fire (and keep the process alive) after unsubscribe.
        cancelTimer();
        sub.unsubscribe();
      };
    });
}
