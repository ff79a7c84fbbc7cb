import type { SchedulerLike } from 'rxjs';
import { ConfigError } from '../errors.js';

export type DropReason = 'superseded' | 'stale';

export interface LatestFrameOptions<T> {
  readonly stalenessMs: number; // frames older than this when the pipeline could take them are dropped
  readonly streamOf: (item: T) => string;
  readonly receivedAt: (item: T) => number; // ms, same clock as `now`
  readonly onDrop: (item: T, reason: DropReason) => void; // dropped items still get acknowledged
  readonly now?: () => number;
  /**
   * The clock when `now` is not given (`scheduler.now()`), so a TestScheduler drives staleness in
   * virtual time. Without either, performance.now(): sources stamp `receivedAt` on that clock, and
   * asyncScheduler's Date.now() would make every frame look decades old.
   */
  readonly scheduler?: SchedulerLike;
}

/**
 * Live mode: per stream, only the newest frame waits for the pipeline; an older waiting frame
 * is superseded, and a frame that waited longer than the staleness budget is dropped when it
 * is taken. Every drop is reported (counted, and committed by a Kafka source). Lossless mode
 * does not use this buffer.
 */
export class LatestFrameBuffer<T> implements AsyncIterable<T> {
  readonly #opts: LatestFrameOptions<T>;
  readonly #now: () => number;
  readonly #pending = new Map<string, T>(); // insertion order = arrival order of the newest frame
  #wake: (() => void) | undefined;
  #ended = false;

  constructor(options: LatestFrameOptions<T>) {
    if (!(options.stalenessMs > 0)) throw new ConfigError(`live stalenessMs must be > 0, got ${options.stalenessMs}`);
    this.#opts = options;
    const { now, scheduler } = options;
    this.#now = now ?? (scheduler ? () => scheduler.now() : () => performance.now());
  }

  get size(): number {
    return this.#pending.size;
  }

  offer(item: T): void {
    const key = this.#opts.streamOf(item);
    const old = this.#pending.get(key);
    if (old !== undefined) {
      this.#pending.delete(key);
      this.#opts.onDrop(old, 'superseded');
    }
    this.#pending.set(key, item);
    this.#wake?.();
  }

  /** No more frames will be offered; iteration ends once the buffer is empty. */
  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  /**
   * The frame to process next, if one is waiting: the oldest stream's newest frame. Frames that
   * went stale while waiting are dropped (and reported) on the way.
   */
  take(): T | undefined {
    for (let first = this.#pending.entries().next(); !first.done; first = this.#pending.entries().next()) {
      const [key, item] = first.value;
      this.#pending.delete(key);
      if (this.#now() - this.#opts.receivedAt(item) > this.#opts.stalenessMs) {
        this.#opts.onDrop(item, 'stale');
        continue;
      }
      return item;
    }
    return undefined;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.take();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}
