import { Observable, Subscription, from, type ObservableInput, type OperatorFunction } from 'rxjs';
import { ConfigError } from '../errors.js';

/**
 * Runs `project` on up to `concurrency` items at once and emits the results in input order.
 * In-flight work is bounded: items beyond the limit wait in the source's own buffer, which
 * the in-flight gate at the pipeline's entrance keeps small. A rejected promise (or an inner
 * observable's error) errors the stream: callers that need per-item failures return them as
 * values (see inferInBatches).
 *
 * `project` usually returns a promise (one result per item); it may return any ObservableInput,
 * whose values are all emitted, in order, before those of the next item. Unsubscribing stops the
 * work in flight (inner observables are unsubscribed) and starts no more.
 */
export function mapConcurrentOrdered<T, R>(project: (item: T) => ObservableInput<R>, concurrency: number): OperatorFunction<T, R> {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError(`concurrency must be an integer >= 1, got ${concurrency}`);
  return (source) =>
    new Observable<R>((subscriber) => {
      const waiting: T[] = [];
      // Results of items that finished (or started emitting) ahead of an earlier one, by sequence.
      const slots = new Map<number, { values: R[]; done: boolean }>();
      const inners = new Map<number, Subscription>();
      let nextIn = 0;
      let nextOut = 0;
      let running = 0;
      let sourceDone = false;
      // `subscriber.closed` rather than a flag of our own: it is already true when the subscriber
      // unsubscribes during a synchronous emission, before this function has returned its teardown.
      const fail = (err: unknown) => subscriber.error(err);
      const drain = () => {
        for (let slot = slots.get(nextOut); slot && !subscriber.closed; slot = slots.get(nextOut)) {
          while (slot.values.length > 0 && !subscriber.closed) subscriber.next(slot.values.shift() as R);
          if (!slot.done) return;
          slots.delete(nextOut++);
        }
      };
      const completeIfIdle = () => {
        if (!sourceDone || running > 0 || waiting.length > 0) return;
        subscriber.complete();
      };
      const pump = () => {
        while (!subscriber.closed && running < concurrency && waiting.length > 0) {
          const item = waiting.shift() as T;
          const seq = nextIn++;
          const slot = { values: [] as R[], done: false };
          slots.set(seq, slot);
          running++;
          let input: ObservableInput<R>;
          try {
            input = project(item);
          } catch (err) {
            fail(err);
            return;
          }
          // Registered before subscribing: a teardown that runs during a synchronous emission of the
          // inner must reach it (a closed holder unsubscribes what is added to it later).
          const inner = new Subscription();
          inners.set(seq, inner);
          inner.add(
            from(input).subscribe({
              next: (v) => {
                slot.values.push(v);
                if (seq === nextOut) drain();
              },
              error: fail,
              complete: () => {
                slot.done = true;
                running--;
                inners.delete(seq);
                drain();
                pump();
                completeIfIdle();
              },
            }),
          );
        }
      };
      const sub = source.subscribe({
        next: (item) => {
          if (subscriber.closed) return;
          waiting.push(item);
          pump();
        },
        error: fail,
        complete: () => {
          sourceDone = true;
          completeIfIdle();
        },
      });
      return () => {
        // Work in flight must stop with the subscriber: no timers, requests or emissions after.
        for (const inner of inners.values()) inner.unsubscribe();
        inners.clear();
        sub.unsubscribe();
      };
    });
}
