import type { FrameRecord } from '../record.js';
import type { Sink } from './sink.js';

/** Keeps every record it is given, in order (single-image commands, tests). */
export function collectSink(): Sink & { readonly records: FrameRecord[] } {
  const records: FrameRecord[] = [];
  return {
    name: 'collect',
    records,
    write: async (batch) => void records.push(...batch),
    close: async () => {},
  };
}
