import type { ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { IndexSinkOptions } from '../../src/index/index-sink.js';
import { openObjectIndex, type ObjectIndex } from '../../src/index/object-index.js';
import type { FrameRecord, LabelledObject } from '../../src/record.js';
import { defaultTopology } from '../../src/topology/default-topology.js';
import { DEFAULT_BUNDLE, ROOT, SHAPES_VAL } from '../helpers/paths.js';
import { record } from '../helpers/records.js';

export const CTX = { modelName: 'test-model', modelVersion: '1.0.0' };
export const IDENTITY = { modelName: CTX.modelName, modelVersion: CTX.modelVersion, embedder: 'object-guided' as const };

/** A fresh folder, removed when the test (or, given `after`, whatever registers it) ends. */
export async function tempDir(t: Pick<ExecutionContext, 'teardown'>, prefix = 'ogclip-index-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The index sink's options as a topology gives them (schema defaults filled in), with `patch` over them. */
export function indexSpec(path: string, patch: Record<string, unknown> = {}): IndexSinkOptions {
  const spec = defaultTopology(DEFAULT_BUNDLE, { sinks: [{ kind: 'index', path, ...patch }] }).sinks[0];
  if (spec?.kind !== 'index') throw new Error('not an index sink');
  return spec;
}

/** Deterministic pseudo-random numbers (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function unitVector(dim: number, random: () => number): Float32Array {
  const v = Float32Array.from({ length: dim }, () => random() * 2 - 1);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** A labelled object with a 4x4 mask in an 8x8 frame. */
export function object(index: number, embedding: Float32Array, label = `label ${index}`): LabelledObject {
  const data = new Uint8Array(64);
  for (let y = 2; y < 6; y++) for (let x = 2; x < 6; x++) data[y * 8 + x] = 1;
  return {
    state: 'labelled',
    index,
    prompt: { points: [[3, 3]], labels: [1] },
    mask: { data, width: 8, height: 8 },
    box: [2, 2, 6, 6],
    score: 0.9,
    embedding,
    labels: [{ label, score: 0.8 }],
  };
}

/** A healthy frame with the given objects. */
export function frame(streamId: string, frameId: string, timestamp: number, objects: LabelledObject[]): FrameRecord {
  return record(frameId, new Uint8Array(0), {
    streamId,
    timestamp,
    origin: { kind: 'dataset', path: `/data/${frameId}.png`, index: Number(frameId) || 0 },
    objects,
  });
}

/** Opens the index at `dir`, runs `fn`, closes it. */
export async function withIndex<T>(dir: string, fn: (index: ObjectIndex) => Promise<T>): Promise<T> {
  const index = await openObjectIndex(dir);
  try {
    return await fn(index);
  } finally {
    index.close();
  }
}

/** Every key of the index, sorted. */
export const keysOf = (dir: string) => withIndex(dir, async (i) => (await i.objects()).map((o) => o.key).sort());

/**
 * An index of the first `frames` validation frames (stream "shapes", automatic masks on an 8 x 8
 * grid), written by `ogclip run` with an index sink into a temporary folder that `t`'s teardown
 * removes (for a file's shared index: `{ teardown }` of a test.after.always list).
 */
export async function builtIndex(t: Pick<ExecutionContext, 'teardown'>, frames: number): Promise<{ dir: string; index: string }> {
  const dir = await tempDir(t, 'ogclip-built-index-');
  const yaml = join(dir, 'index.yaml');
  await writeFile(
    yaml,
    stringify({
      name: 'built-index',
      bundle: DEFAULT_BUNDLE,
      source: { kind: 'dataset', path: SHAPES_VAL, limit: frames, streamId: 'shapes' },
      sam2: { mode: 'automatic', pointsPerSide: 8 },
      sinks: [{ kind: 'index', path: 'index' }],
    }),
  );
  await promisify(execFile)(process.execPath, [`${ROOT}bin/ogclip.js`, 'run', yaml], { cwd: ROOT, maxBuffer: 1 << 24 });
  return { dir, index: join(dir, 'index') };
}
