import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../errors.js';
import { decodeRle, type Rle } from '../masks/rle.js';
import type { Box } from '../masks/mask.js';
import type { FrameRecord, GroundTruthObject } from '../record.js';
import type { Sam2Prompt } from '../models/sam2.js';
import { contentTypeOf } from './content-type.js';
import type { SourceComponent } from '../topology/component.js';
import type { FrameSource } from './source.js';

export interface DatasetEntry {
  readonly imagePath: string; // absolute
  readonly index: number;
  readonly truth: readonly GroundTruthObject[];
}

export interface DatasetReplayOptions {
  readonly path: string; // dataset folder (with dataset.json) or the JSON file itself
  readonly fps: number; // 0: as fast as the pipeline takes them; otherwise paced like a camera
  readonly streamId: string;
  readonly limit: number; // frames at most (0: all)
  readonly loops: number; // passes over the dataset (frame ids get the pass number)
  /** Optional prompts per frame, e.g. one click per ground-truth object for evaluation. */
  readonly promptsFor?: (entry: DatasetEntry) => readonly Sam2Prompt[] | undefined;
}

/** Reads the seed's dataset JSON (images -> objects with bbox, description, optional mask RLE). */
export async function readDataset(path: string): Promise<DatasetEntry[]> {
  const file = path.endsWith('.json') ? path : resolve(path, 'dataset.json');
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: cannot read dataset JSON (${(err as Error).message})`);
  }
  const images = (doc as { images?: unknown }).images;
  if (!Array.isArray(images)) throw new ConfigError(`${file}: expected {"images": [...]}`);
  return images.map((im: { image_path?: unknown; objects?: unknown }, index) => {
    if (typeof im.image_path !== 'string') throw new ConfigError(`${file}: images[${index}] has no image_path`);
    const objects = Array.isArray(im.objects) ? im.objects : [];
    const truth = objects.map((o: { bbox?: Box; description?: string; mask?: Rle }, j): GroundTruthObject => {
      if (!Array.isArray(o.bbox) || o.bbox.length !== 4 || typeof o.description !== 'string') {
        throw new ConfigError(`${file}: images[${index}].objects[${j}] needs bbox [x1,y1,x2,y2] and description`);
      }
      return { description: o.description, box: o.bbox, ...(o.mask ? { mask: decodeRle(o.mask) } : {}) };
    });
    return { imagePath: resolve(dirname(file), im.image_path), index, truth };
  });
}

/** Replays a dataset as a stream of frames with ground truth attached (for evaluation sinks). */
export async function datasetReplaySource(options: DatasetReplayOptions): Promise<FrameSource & { readonly size: number }> {
  if (!(options.fps >= 0)) throw new ConfigError(`dataset source fps must be >= 0, got ${options.fps}`);
  const entries = await readDataset(options.path);
  const passes = Math.max(1, options.loops);
  const total = options.limit > 0 ? Math.min(options.limit, entries.length * passes) : entries.length * passes;
  let stopped = false;
  return {
    name: `dataset:${options.path}`,
    size: total,
    async *frames() {
      const start = performance.now();
      for (let n = 0; n < total && !stopped; n++) {
        const e = entries[n % entries.length]!;
        const pass = Math.floor(n / entries.length);
        if (options.fps > 0) {
          const due = start + (n * 1000) / options.fps;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
        }
        const payload = await readFile(e.imagePath);
        const prompts = options.promptsFor?.(e);
        const ct = contentTypeOf(e.imagePath);
        const record: FrameRecord = {
          streamId: options.streamId,
          frameId: pass > 0 ? `${e.index}.${pass}` : String(e.index),
          timestamp: Date.now(),
          receivedAt: performance.now(),
          origin: { kind: 'dataset', path: e.imagePath, index: e.index },
          payload: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength),
          ...(ct ? { contentType: ct } : {}),
          ...(prompts ? { prompts } : {}),
          groundTruth: e.truth,
          timings: {},
        };
        yield record;
      }
    },
    ack: async () => {},
    stop: () => void (stopped = true),
    close: async () => {},
  };
}

/** `kind: dataset` in a topology's source: a dataset replayed, paced like a camera when fps > 0. */
export const datasetSourceComponent: SourceComponent<'dataset'> = {
  kind: 'dataset',
  resolvePaths: (o, abs) => (o.path = abs(o.path)),
  create: (o) => datasetReplaySource(o),
};
