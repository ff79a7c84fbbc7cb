import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
// The demo tuning's grid, selection rule and file format (bench/tune-automatic.ts writes
// topologies/demo.tuning.json with them; test/topology/demo-tuning.test.ts reads it back).

/** The three automatic-mask filters: they decide which masks (objects) a frame has. */
export interface Sam2Setting {
  readonly predIouThresh: number;
  readonly stabilityScoreThresh: number;
  readonly boxNmsThresh: number;
}

/** The two detection filters: they only choose among the objects' labels and masks. */
export interface SimilaritySetting {
  readonly threshold: number;
  readonly maskNmsThresh: number;
}

export interface Setting {
  readonly sam2: Sam2Setting;
  readonly similarity: SimilaritySetting;
}

export interface Scores {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

export interface GridPoint extends Setting, Scores {
  readonly index: number; // position in the grid (the tie-break of last resort)
  readonly detections: number;
}

/** Values per setting; the grid is their product, sam2 settings outermost, in this order. */
export interface GridSpec {
  readonly predIouThresh: readonly number[];
  readonly stabilityScoreThresh: readonly number[];
  readonly boxNmsThresh: readonly number[];
  readonly threshold: readonly number[];
  readonly maskNmsThresh: readonly number[];
}

export const DEMO_GRID: GridSpec = {
  predIouThresh: [0.6, 0.7, 0.8],
  stabilityScoreThresh: [0.7, 0.9],
  boxNmsThresh: [0.5, 0.7],
  threshold: [0.5, 0.55, 0.6, 0.65, 0.7],
  maskNmsThresh: [0.3, 0.5],
};

/**
 * The development split's seeds: [3,000,000, 4,000,000) (training/ogclip_factory/pool.py: DEV_SEED,
 * ZERO_SHOT_SEED). The committed validation split is 1,000,000..1,000,299 and is never tuned on.
 */
export const DEV_FIRST_SEED = 3_000_000;
export const DEV_END_SEED = 4_000_000;

export function sam2Settings(g: GridSpec): Sam2Setting[] {
  const out: Sam2Setting[] = [];
  for (const predIouThresh of g.predIouThresh)
    for (const stabilityScoreThresh of g.stabilityScoreThresh)
      for (const boxNmsThresh of g.boxNmsThresh) out.push({ predIouThresh, stabilityScoreThresh, boxNmsThresh });
  return out;
}

export function similaritySettings(g: GridSpec): SimilaritySetting[] {
  const out: SimilaritySetting[] = [];
  for (const threshold of g.threshold) for (const maskNmsThresh of g.maskNmsThresh) out.push({ threshold, maskNmsThresh });
  return out;
}

export function f1Of(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

export const SELECTION_RULE =
  'the highest F1 = 2PR/(P+R); ties (F1 within 1e-9) go to the higher precision (within 1e-9), then to the earlier grid point';

const EPS = 1e-9;

/** The grid point chosen by SELECTION_RULE (the first of the points when they all tie). */
export function selectBest<T extends Scores>(points: readonly T[]): T {
  let best: T | undefined;
  for (const p of points) {
    if (!best) best = p;
    else if (p.f1 > best.f1 + EPS) best = p;
    else if (Math.abs(p.f1 - best.f1) <= EPS && p.precision > best.precision + EPS) best = p;
  }
  if (!best) throw new Error('selectBest: empty grid');
  return best;
}

/** topologies/demo.tuning.json */
export interface TuningFile {
  readonly command: string;
  readonly steps: readonly string[];
  readonly date: string;
  readonly seconds: number;
  readonly topology: string;
  readonly split: {
    readonly first_seed: number;
    readonly count: number;
    readonly generator: string;
    readonly dataset_sha256: string;
  };
  readonly bundle: { readonly path: string; readonly model: string; readonly weights_sha256: string };
  readonly fixed: Record<string, unknown>;
  readonly scoring: string;
  readonly method: string;
  readonly selection_rule: string;
  readonly grid_spec: GridSpec;
  readonly runs: readonly {
    readonly sam2: Sam2Setting;
    readonly seconds: number;
    readonly frames: number;
    readonly objects: number;
    readonly dead_letters: number;
  }[];
  readonly grid: readonly GridPoint[];
  readonly choice: GridPoint;
}

/**
 * sha256 over the bundle's ONNX and tokenizer files (relative path and bytes, sorted by path):
 * what decides masks, embeddings and scores. bundle.json is left out, since its metrics change
 * with every evaluation while the models stay the same.
 */
export async function weightsHash(dir: string): Promise<string> {
  const files = (await readdir(dir, { recursive: true })).filter((f) => /\.onnx$|tokenizer[^/]*\.json$/.test(f)).sort();
  const h = createHash('sha256');
  for (const f of files) h.update(`${f}\0`).update(await readFile(join(dir, f)));
  return h.digest('hex');
}
