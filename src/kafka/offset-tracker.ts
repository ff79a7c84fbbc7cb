/**
 * Per-partition bookkeeping for at-least-once commits. Offsets are tracked in increasing order
 * when messages are taken, and marked done when every sink has their outputs (or, in live mode,
 * when they are dropped on purpose). Everything below the lowest unfinished offset is done, so
 * that is what may be committed; gaps in offsets (compaction, transaction markers) need nothing.
 */
export class OffsetTracker {
  readonly #pending = new Set<bigint>();
  #highest: bigint | undefined;
  #lowest: bigint | undefined;
  #committed: bigint | undefined;

  track(offset: string): void {
    const o = BigInt(offset);
    this.#pending.add(o);
    if (this.#highest === undefined || o > this.#highest) this.#highest = o;
    if (this.#lowest === undefined || o < this.#lowest) this.#lowest = o;
  }

  done(offset: string): void {
    this.#pending.delete(BigInt(offset));
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /** The offset to commit now (Kafka's convention: the next one to read), if it moved. */
  committable(): string | undefined {
    if (this.#highest === undefined) return undefined;
    let next = this.#highest + 1n;
    for (const p of this.#pending) if (p < next) next = p;
    if (this.#committed !== undefined && next <= this.#committed) return undefined;
    if (this.#committed === undefined && next === this.#lowest) return undefined; // nothing finished yet
    return next.toString();
  }

  /** Kafka accepted a commit of `offset`; a failed commit is simply offered again next time. */
  committed(offset: string): void {
    const o = BigInt(offset);
    if (this.#committed === undefined || o > this.#committed) this.#committed = o;
  }
}
