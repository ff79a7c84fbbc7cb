// Shared by the loader tests for real-export variants: the fixed parity input (the same formula
// as the factory's fixtures.pattern_image), the PyTorch references it wrote, tolerances per
// dtype, and bundles derived from test/fixtures/variants-bundle.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { ModelDtype } from '../../src/models/bundle.js';
import type { Chw } from '../../src/tensor/image.js';
import { FIXTURES } from '../helpers/paths.js';

/** [3,S,S]: ((7x + 13y + 29c) mod 97) / 97 - 0.5, exact in float32 in both languages. */
export function patternImage(size: number): Chw {
  const data = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) data[(c * size + y) * size + x] = ((x * 7 + y * 13 + c * 29) % 97) / 97 - 0.5;
    }
  }
  return { data, channels: 3, height: size, width: size };
}

export interface ClipParity {
  image_size: number;
  texts: string[];
  input_ids: number[][];
  attention_mask: number[][];
  vision: { image_embeds: number[]; last_hidden_state: number[]; dims: [number, number, number] };
  text: { text_embeds: number[]; dims: [number, number] };
  joint: { image_embeds: number[]; text_embeds: number[] };
}

interface Sam2Result {
  iou_scores: number[];
  object_score_logits: number[];
  pred_masks_every_8th: number[];
  pred_masks_dims: number[];
}

export interface Sam2Parity {
  input_size: number;
  frame: [number, number];
  embeddings: Record<string, { dims: number[]; step: number; values: number[] }>;
  point_prompts: { points: [number, number][]; labels: (0 | 1)[] }[];
  box_prompt: { box: [number, number, number, number] };
  by_points: Sam2Result;
  by_box: Sam2Result;
}

export async function readParity<T>(fixture: string): Promise<T> {
  return JSON.parse(await readFile(`${FIXTURES}${fixture}/parity.json`, 'utf8')) as T;
}

/**
 * Largest |a - ref| over the largest |ref|. Bounds by dtype, from what the fixtures give against
 * PyTorch fp32 with margin: fp32 ~1e-6, fp16 ~1e-3 (11-bit significands), dynamic int8 ~0.04.
 */
export const TOLERANCE: Record<ModelDtype, number> = { fp32: 1e-4, fp16: 5e-3, quantized: 0.08 };

export function relativeError(a: ArrayLike<number>, ref: readonly number[]): number {
  if (a.length !== ref.length) return Infinity;
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return err / scale;
}

/** Every `step`-th row and column of a [..., h, w] tensor, flattened (as numpy's [..., ::k, ::k]). */
export function everyNth(data: Float32Array, h: number, w: number, step: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < data.length / (h * w); p++) {
    for (let y = 0; y < h; y += step) for (let x = 0; x < w; x += step) out.push(data[p * h * w + y * w + x]!);
  }
  return out;
}

type Section = Record<string, unknown>;

const PATH_KEYS = [
  'encoder',
  'decoder',
  'vision',
  'text',
  'tokenizer',
  'tokenizer_config',
  'object_branch',
  'mask_branch',
  'fusion',
  'projection',
];

/**
 * test/fixtures/variants-bundle with some keys changed, written to a temporary folder with every
 * path made absolute (patched paths are relative to test/fixtures/). Remove it with `dispose`.
 */
export async function variantBundle(patch: {
  sam2?: Section;
  clip?: Section;
  head?: Section;
}): Promise<{ dir: string; dispose(): Promise<void> }> {
  const base = `${FIXTURES}variants-bundle`;
  const json = JSON.parse(await readFile(join(base, 'bundle.json'), 'utf8')) as Record<string, unknown>;
  const absolute = (section: Section, root: string): Section =>
    Object.fromEntries(
      Object.entries(section).map(([k, v]) => [k, PATH_KEYS.includes(k) && typeof v === 'string' && !isAbsolute(v) ? resolve(root, v) : v]),
    );
  for (const key of ['sam2', 'clip', 'head'] as const) {
    const own = json[key] ? absolute(json[key] as Section, base) : undefined;
    const change = patch[key] ? absolute(patch[key], FIXTURES) : undefined;
    if (own || change) json[key] = { ...own, ...change };
  }
  const dir = await mkdtemp(join(tmpdir(), 'ogclip-bundle-'));
  await writeFile(join(dir, 'bundle.json'), JSON.stringify(json));
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}
