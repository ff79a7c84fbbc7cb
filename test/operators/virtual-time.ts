import type { ExecutionContext } from 'ava';
import type { SchedulerAction, SchedulerLike, Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';

/** A TestScheduler whose marble comparisons are ava assertions (diffs show in the report). */
export function marbles(t: ExecutionContext): TestScheduler {
  return new TestScheduler((actual, expected) => t.deepEqual(actual, expected));
}

/**
 * Wraps a scheduler to count the work it was given and the work that actually ran. A subscriber
 * ignores values after unsubscribe, so an emission-based check cannot see a timer that was left
 * to fire; this count can.
 */
export function countingScheduler(inner: SchedulerLike): { scheduler: SchedulerLike; scheduled: () => number; ran: () => number } {
  let scheduled = 0;
  let ran = 0;
  const scheduler: SchedulerLike = {
    now: () => inner.now(),
    schedule<S>(work: (this: SchedulerAction<S>, state?: S) => void, delay?: number, state?: S): Subscription {
      scheduled++;
      return inner.schedule<S>(
        function (this: SchedulerAction<S>, s?: S) {
          ran++;
          work.call(this, s);
        },
        delay,
        state,
      );
    },
  };
  return { scheduler, scheduled: () => scheduled, ran: () => ran };
}
