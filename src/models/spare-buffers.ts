/**
 * Output buffers the main thread gave back (`InferenceRuntime.recycle`), held by the inference
 * worker to send later outputs of the same size in: an output is copied into one (a memory copy,
 * cheap beside a model run) instead of sending onnxruntime's own buffer, so the main thread gets
 * the same few buffers back over and over, where each new one it received counted toward its
 * next full garbage collection (the demo's decoder outputs, 12.6 MB a frame, set one off every
 * frame or two). At most `limitBytes` are held; beyond it the buffers given back longest ago go
 * first, so sizes that stop coming (a concatenation of split calls, an old batch size) age out.
 */
export class SpareBuffers {
  readonly #bySize = new Map<number, ArrayBuffer[]>();
  readonly #order: ArrayBuffer[] = []; // oldest first
  #bytes = 0;

  constructor(readonly limitBytes: number) {}

  get bytes(): number {
    return this.#bytes;
  }

  /** A spare buffer of exactly `bytes`, now the caller's; undefined when none is held. */
  take(bytes: number): ArrayBuffer | undefined {
    const b = this.#bySize.get(bytes)?.pop();
    if (!b) return undefined;
    this.#order.splice(this.#order.indexOf(b), 1);
    this.#bytes -= bytes;
    return b;
  }

  /** Holds the buffers (detached ones, and any larger than the limit, are skipped). */
  give(buffers: readonly ArrayBuffer[]): void {
    for (const b of buffers) {
      if (b.byteLength === 0 || b.byteLength > this.limitBytes) continue;
      while (this.#bytes + b.byteLength > this.limitBytes) this.#evictOldest();
      this.#bySize.set(b.byteLength, [...(this.#bySize.get(b.byteLength) ?? []), b]);
      this.#order.push(b);
      this.#bytes += b.byteLength;
    }
  }

  #evictOldest(): void {
    const b = this.#order.shift()!;
    const same = this.#bySize.get(b.byteLength)!;
    same.splice(same.indexOf(b), 1);
    if (same.length === 0) this.#bySize.delete(b.byteLength);
    this.#bytes -= b.byteLength;
  }
}

/** The data of a tensor to send: `reuse` (a spare of its byte length) filled with its values. */
export function filled<T extends Float32Array | BigInt64Array>(data: T, reuse: ArrayBuffer): T {
  const out = (data instanceof Float32Array ? new Float32Array(reuse) : new BigInt64Array(reuse)) as T;
  out.set(data as never);
  return out;
}
