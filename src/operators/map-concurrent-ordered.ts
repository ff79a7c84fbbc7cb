import { Observable, type OperatorFunction } from 'rxjs';
import { ConfigError } from '../errors.js';

/**
 * Runs `project` on up to `concurrency` items at once and emits the results in input order.
 * In-flight work is bounded: items beyond the limit wait in the source's own buffer, which
 * the in-flight gate at the pipeline's entrance keeps small. A rejected promise errors the
 * stream: callers that need per-item failures return them as values (see inferInBatches).
 */
export function mapConcurrentOrdered<T, R>(project: (item: T) => Promise<R>, concurrency: number): OperatorFunction<T, R> {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError(`concurrency must be an integer >= 1, got ${concurrency}`);
  return (source) =>
    new Observable<R>((subscriber) => {
      const waiting: T[] = [];
      const results = new Map<number, R>();
      let nextIn = 0;
      let nextOut = 0;
      let running = 0;
      let sourceDone = false;
      let closed = false;
      const pump = () => {
        while (!closed && running < concurrency && waiting.length > 0) {
          const item = waiting.shift() as T;
          const seq = nextIn++;
          running++;
          project(item).then(
            (r) => {
              running--;
              results.set(seq, r);
              while (results.has(nextOut)) {
                const v = results.get(nextOut) as R;
                results.delete(nextOut++);
                if (!closed) subscriber.next(v);
              }
              pump();
              if (sourceDone && running === 0 && waiting.length === 0 && !closed) subscriber.complete();
            },
            (err: unknown) => {
              closed = true;
              subscriber.error(err);
            },
          );
        }
      };
      const sub = source.subscribe({
        next: (item) => {
          waiting.push(item);
          pump();
        },
        error: (err) => {
          closed = true;
          subscriber.error(err);
        },
        complete: () => {
          sourceDone = true;
          if (running === 0 && waiting.length === 0) subscriber.complete();
        },
      });
      return () => {
        closed = true;
        sub.unsubscribe();
      };
    });
}
