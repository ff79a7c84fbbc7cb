import type { SinkComponent } from '../topology/component.js';
import type { Sink } from './sink.js';

/** One progress line every `everyMs` on long runs, and a final line on close. */
export function consoleProgressSink(out: NodeJS.WritableStream = process.stderr, everyMs = 2000, total?: number): Sink {
  const start = performance.now();
  let last = start;
  let frames = 0;
  let failed = 0;
  let detections = 0;
  const line = () => {
    const s = (performance.now() - start) / 1000;
    const of = total ? `/${total}` : '';
    return `frames ${frames}${of}  detections ${detections}  dead letters ${failed}  ${(frames / Math.max(s, 1e-9)).toFixed(2)} frames/s  ${s.toFixed(1)} s`;
  };
  return {
    name: 'console',
    async write(records) {
      for (const r of records) {
        frames++;
        if (r.error) failed++;
        detections += r.detections?.length ?? 0;
      }
      const now = performance.now();
      if (now - last >= everyMs) {
        last = now;
        out.write(`${line()}\n`);
      }
    },
    async close() {
      out.write(`done: ${line()}\n`);
    },
  };
}

/** `kind: console` in a topology's sinks: progress on stderr. */
export const consoleSinkComponent: SinkComponent<'console'> = {
  kind: 'console',
  create: (o, context) => consoleProgressSink(process.stderr, o.everyMs, context.frames),
};
