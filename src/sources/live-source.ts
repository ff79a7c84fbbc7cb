import { LatestFrameBuffer, type DropReason } from '../operators/latest-frame-buffer.js';
import type { FrameRecord } from '../record.js';
import type { FrameSource } from './source.js';

/**
 * Live mode for a source that produces at its own pace (a camera, a paced replay): it is read
 * as fast as it produces, and the pipeline takes the newest frame of each stream; superseded
 * and stale frames are dropped, counted, and acknowledged to the source all the same.
 */
export function liveSource(
  inner: FrameSource,
  stalenessMs: number,
  onDrop: (r: FrameRecord, why: DropReason) => void = () => {},
): FrameSource & { readonly dropped: Record<DropReason, number> } {
  const dropped: Record<DropReason, number> = { superseded: 0, stale: 0 };
  const buffer = new LatestFrameBuffer<FrameRecord>({
    stalenessMs,
    streamOf: (r) => r.streamId,
    receivedAt: (r) => r.receivedAt,
    onDrop: (r, why) => {
      dropped[why]++;
      onDrop(r, why);
      void inner.ack(r);
    },
  });
  let pump: Promise<void> | undefined;
  return {
    name: `live:${inner.name}`,
    dropped,
    frames() {
      pump ??= (async () => {
        try {
          for await (const r of inner.frames()) buffer.offer(r);
        } finally {
          buffer.end();
        }
      })();
      return buffer;
    },
    ack: (r) => inner.ack(r),
    stop: () => {
      inner.stop();
      buffer.end();
    },
    close: async () => {
      await pump?.catch(() => {});
      await inner.close();
    },
  };
}
