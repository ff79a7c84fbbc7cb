import { ConfigError } from '../errors.js';

/**
 * Bounds the frames inside the pipeline: a source takes a permit before it emits a frame and
 * the sink stage returns it once every sink has the frame's outputs. When the pipeline is full
 * the source waits (a Kafka source pauses fetching), so memory stays flat however long it runs.
 */
export class InFlightGate {
  readonly #capacity: number;
  #inFlight = 0;
  #waiters: (() => void)[] = [];

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new ConfigError(`maxInFlight must be an integer >= 1, got ${capacity}`);
    this.#capacity = capacity;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get capacity(): number {
    return this.#capacity;
  }

  get full(): boolean {
    return this.#inFlight >= this.#capacity;
  }

  /** Resolves when a permit is free and takes it. */
  acquire(): Promise<void> {
    if (this.#inFlight < this.#capacity) {
      this.#inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.#waiters.push(() => {
        this.#inFlight++;
        resolve();
      }),
    );
  }

  release(): void {
    if (this.#inFlight === 0) throw new Error('InFlightGate.release() without a matching acquire()');
    this.#inFlight--;
    const next = this.#waiters.shift();
    if (next) next();
  }
}
