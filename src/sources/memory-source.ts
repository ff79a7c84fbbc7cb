import type { FrameRecord } from '../record.js';
import type { FrameSource } from './source.js';

/** Frames already in memory (single-image commands, tests). Acknowledgements are recorded. */
export function memorySource(records: readonly FrameRecord[]): FrameSource & { readonly acked: FrameRecord[] } {
  let stopped = false;
  const acked: FrameRecord[] = [];
  return {
    name: 'memory',
    acked,
    async *frames() {
      for (const r of records) {
        if (stopped) return;
        yield r;
      }
    },
    ack: async (r) => void acked.push(r),
    stop: () => void (stopped = true),
    close: async () => {},
  };
}
