import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { ConfigError } from '../errors.js';
import type { FrameRecord } from '../record.js';
import { contentTypeOf } from './content-type.js';
import type { SourceComponent } from '../topology/component.js';
import type { FrameSource } from './source.js';

export interface DirectoryOptions {
  readonly path: string;
  readonly watch: boolean; // after the backfill, keep taking files that appear
  readonly streamId: string;
  readonly recursive: boolean;
  /**
   * With `watch`: a new file is taken once its size has not changed for this many milliseconds,
   * so that a file still being written (a camera writing a JPEG in chunks) is not read
   * half-written. 0 takes a file as soon as it appears. Default 500.
   */
  readonly settleMs?: number;
}

const defaultSettleMs = 500;
const isDotFile = (path: string) => basename(path).startsWith('.');

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
 * that appears later, once it has stopped growing for `settleMs`; each path is taken once.
 * Files whose name starts with '.' are skipped (temporary files written, then renamed). Any
 * other file is taken: decode rejects what is not an image, as a dead letter.
 */
export function directorySource(options: DirectoryOptions): FrameSource {
  const root = resolve(options.path);
  const settleMs = options.settleMs ?? defaultSettleMs;
  if (!Number.isFinite(settleMs) || settleMs < 0) {
    throw new ConfigError(`directory source ${root}: settleMs must be a number of milliseconds >= 0, got ${settleMs}`);
  }
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
      let failure: { error: unknown } | undefined;
      let watcher: FSWatcher | undefined;
      try {
        if (options.watch) {
          // Started before the backfill listing, so that no file falls between the two; a file in
          // both is taken once. ignoreInitial: what exists now is the backfill's, in name order.
          watcher = watch(root, {
            ignoreInitial: true,
            ...(options.recursive ? {} : { depth: 0 }),
            ignored: (path, stats) => stats?.isFile() === true && isDotFile(path),
            awaitWriteFinish:
              settleMs > 0 ? { stabilityThreshold: settleMs, pollInterval: Math.min(100, Math.max(10, settleMs / 4)) } : false,
            // Every new name is an 'add' (no unlink + add folded into a 'change'), and editor
            // backup names (`~`, .swp) are taken as the backfill takes them.
            atomic: false,
          });
          watcher.on('add', (path) => {
            if (isDotFile(path)) return;
            queue.push(path);
            wake?.();
          });
          watcher.on('error', (error) => {
            failure ??= { error };
            wake?.();
          });
          const w = watcher;
          await new Promise<void>((r) => w.once('ready', r));
        }
        for (const p of await listFiles(root, options.recursive)) {
          if (stopped) return;
          seen.add(p);
          yield await toRecord(p);
        }
        while (options.watch && !stopped) {
          if (failure) throw failure.error;
          const next = queue.shift();
          if (!next) {
            await new Promise<void>((r) => (wake = r));
            continue;
          }
          if (seen.has(next)) continue;
          const info = await stat(next).catch(() => undefined);
          if (!info?.isFile()) continue; // gone again
          seen.add(next);
          yield await toRecord(next);
        }
      } finally {
        await watcher?.close();
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

/** `kind: directory` in a topology's source: a folder's files, then (watch) the ones that appear. */
export const directorySourceComponent: SourceComponent<'directory'> = {
  kind: 'directory',
  resolvePaths: (o, abs) => (o.path = abs(o.path)),
  create: (o) => directorySource(o),
};
