import { Observable } from 'rxjs';
import type { InFlightGate } from './in-flight-gate.js';

/**
 * An Observable over an async iterable that pulls the next item only after taking a permit
 * from the gate: the source never runs ahead of the pipeline by more than the gate allows.
 * Unsubscribing stops pulling and closes the iterator.
 */
export function fromGated<T>(items: AsyncIterable<T>, gate: InFlightGate): Observable<T> {
  return new Observable<T>((subscriber) => {
    const it = items[Symbol.asyncIterator]();
    let stopped = false;
    (async () => {
      while (!stopped) {
        await gate.acquire();
        if (stopped) {
          gate.release();
          break;
        }
        const step = await it.next();
        if (step.done) {
          gate.release();
          break;
        }
        subscriber.next(step.value);
      }
      if (!stopped) subscriber.complete();
    })().catch((err: unknown) => subscriber.error(err));
    return () => {
      stopped = true;
      void it.return?.();
    };
  });
}
