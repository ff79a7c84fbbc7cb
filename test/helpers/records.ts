import type { FrameRecord } from '../../src/record.js';

/** A record with the given bytes; everything else minimal. */
export function record(frameId: string, payload: Uint8Array = new Uint8Array(0), extra: Partial<FrameRecord> = {}): FrameRecord {
  return {
    streamId: 'test',
    frameId,
    timestamp: 0,
    receivedAt: performance.now(),
    origin: { kind: 'memory' },
    payload,
    timings: {},
    ...extra,
  };
}

/** A promise plus its resolver: a latch tests wait on instead of sleeping. */
export function latch<T = void>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}
