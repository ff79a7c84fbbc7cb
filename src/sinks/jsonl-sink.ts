import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FrameRecord } from '../record.js';
import { deadLetterMessage, detectionsMessage, objectsMessage } from './messages.js';
import type { SinkComponent } from '../topology/component.js';
import type { Sink, SinkContext } from './sink.js';

export type JsonlContent = 'objects' | 'detections' | 'dead-letters';

/**
 * One JSON message per line. objects/detections take healthy frames, dead-letters the failed
 * ones. Each write is appended and fsynced before it resolves (the source may then commit).
 */
export async function jsonlSink(content: JsonlContent, path: string): Promise<Sink> {
  await mkdir(dirname(path), { recursive: true });
  const file: FileHandle = await open(path, 'w');
  return {
    name: `jsonl:${content}`,
    async write(records: readonly FrameRecord[], ctx: SinkContext) {
      const lines: string[] = [];
      for (const r of records) {
        if (content === 'dead-letters') {
          if (r.error) lines.push(JSON.stringify(deadLetterMessage(r, ctx)));
        } else if (!r.error) {
          lines.push(JSON.stringify(content === 'objects' ? objectsMessage(r, ctx) : detectionsMessage(r, ctx)));
        }
      }
      if (lines.length === 0) return;
      await file.appendFile(lines.join('\n') + '\n');
      await file.datasync();
    },
    close: () => file.close(),
  };
}

/** `kind: jsonl` in a topology's sinks. */
export const jsonlSinkComponent: SinkComponent<'jsonl'> = {
  kind: 'jsonl',
  resolvePaths: (o, abs) => (o.path = abs(o.path)),
  create: (o) => jsonlSink(o.content, o.path),
};
