import { watch } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { FrameRecord } from '../record.js';
import { contentTypeOf } from './content-type.js';
import type { FrameSource } from './source.js';

export interface DirectoryOptions {
  readonly path: string;
  readonly watch: boolean; // after the backfill, keep taking files that appear
  readonly streamId: string;
  readonly recursive: boolean;
}

async function listFiles(dir: string, recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory() && recursive) out.push(...(await listFiles(p, true)));
    else if (ent.isFile() && !ent.name.startsWith('.')) out.push(p);
  }
  return out.sort();
}

/**
 * Every file of a folder, in name order (a one-shot backfill), then, with `watch`, each file
 * that appears later. Any file is taken: decode rejects what is not an image, as a dead letter.
 */
export function directorySource(options: DirectoryOptions): FrameSource {
  const root = resolve(options.path);
  let stopped = false;
  let wake: (() => void) | undefined;
  const toRecord = async (path: string): Promise<FrameRecord> => {
    const bytes = await readFile(path);
    const ct = contentTypeOf(path);
    return {
      streamId: options.streamId,
      frameId: path.slice(root.length + 1) || basename(path),
      timestamp: (await stat(path)).mtimeMs,
      receivedAt: performance.now(),
      origin: { kind: 'file', path },
      payload: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      ...(ct ? { contentType: ct } : {}),
      timings: {},
    };
  };
  return {
    name: `directory:${root}`,
    async *frames() {
      const seen = new Set<string>();
      const queue: string[] = [];
      const watcher = options.watch
        ? watch(root, { recursive: options.recursive }, (_event, name) => {
            if (name) {
              queue.push(join(root, name.toString()));
              wake?.();
            }
          })
        : undefined;
      try {
        for (const p of await listFiles(root, options.recursive)) {
          if (stopped) return;
          seen.add(p);
          yield await toRecord(p);
        }
        while (options.watch && !stopped) {
          const next = queue.shift();
          if (!next) {
            await new Promise<void>((r) => (wake = r));
            continue;
          }
          if (seen.has(next)) continue;
          const info = await stat(next).catch(() => undefined);
          if (!info?.isFile()) continue;
          seen.add(next);
          yield await toRecord(next);
        }
      } finally {
        watcher?.close();
      }
    },
    ack: async () => {},
    stop: () => {
      stopped = true;
      wake?.();
    },
    close: async () => {},
  };
}
