import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { assertValid } from '../schema/validator.js';

type Rgb3 = readonly [number, number, number];

/**
 * Which file of a model section to load. bundle.json names the fp32 file; the other dtypes
 * pick the variant public exports ship beside it: `<stem>_fp16.onnx` (float16 weights, and
 * float16 inputs / outputs too where the export did not keep float32 I/O: the worker converts)
 * or `<stem>_quantized.onnx` (dynamic int8 weights).
 */
export type ModelDtype = 'fp32' | 'fp16' | 'quantized';

/** bundle.json, after validation against schemas/bundle.schema.json (defaults filled in). */
export interface BundleManifest {
  readonly name: string;
  readonly version: string;
  readonly format: 1;
  readonly sam2: {
    readonly format: 'onnx-community' | 'samexporter';
    readonly encoder: string;
    readonly decoder: string;
    readonly input_size: number;
    readonly mean?: Rgb3;
    readonly std?: Rgb3;
    readonly dtype: ModelDtype;
  };
  readonly clip: {
    readonly format: 'xenova';
    readonly vision: string;
    readonly text: string;
    readonly tokenizer: string;
    readonly tokenizer_config?: string;
    readonly image_size: number;
    readonly mean?: Rgb3;
    readonly std?: Rgb3;
    readonly context_length: number;
    readonly logit_scale?: number;
    readonly dtype: ModelDtype;
  };
  readonly head?: {
    readonly object_branch: string;
    readonly mask_branch: string;
    readonly fusion: string;
    readonly projection: string;
    readonly object_size: number;
    readonly mask_size: number;
    readonly crop_margin: number;
    readonly crop_pad: number;
    /** The object branch's crops as multiples of the crop window (default [1]). */
    readonly object_scales: readonly number[];
    readonly logit_scale?: number;
    readonly dtype: ModelDtype;
  };
  /** Framing of the training-free crop embedder; absent: the head's crop, else DEFAULT_CROP. */
  readonly crop_baseline?:
    | { readonly window: 'object'; readonly margin: number; readonly pad: number; readonly context: 'masked' | 'kept' }
    | { readonly window: 'fixed'; readonly side_fraction: number; readonly context: 'masked' | 'kept' };
  readonly embedding_dim?: number;
  readonly labels: readonly string[];
  readonly metrics?: Record<string, unknown>;
}

export const SAM2_MEAN: Rgb3 = [0.485, 0.456, 0.406];
export const SAM2_STD: Rgb3 = [0.229, 0.224, 0.225];
export const CLIP_MEAN: Rgb3 = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: Rgb3 = [0.26862954, 0.26130258, 0.27577711];

/** The file a dtype picks for the fp32 file `rel` names: `x.onnx` -> `x_fp16.onnx` / `x_quantized.onnx`. */
export function dtypeFile(rel: string, dtype: ModelDtype): string {
  if (dtype === 'fp32') return rel;
  if (!rel.endsWith('.onnx')) {
    throw new ConfigError(`${rel}: dtype "${dtype}" picks <stem>_${dtype}.onnx beside the named file, which must end in .onnx`);
  }
  return `${rel.slice(0, -'.onnx'.length)}_${dtype}.onnx`;
}

/** A manifest plus the folder it came from; `file()` resolves its relative paths. */
export interface Bundle {
  readonly dir: string;
  readonly manifest: BundleManifest;
  file(relative: string): string;
}

export async function readBundle(dir: string): Promise<Bundle> {
  const path = resolve(dir, 'bundle.json');
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch {
    throw new ConfigError(`${path}: no bundle.json here; a bundle is a folder with bundle.json and its ONNX files`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new ConfigError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const manifest = assertValid<BundleManifest>('bundle', json, path);
  const root = dirname(path);
  return { dir: root, manifest, file: (rel) => (isAbsolute(rel) ? rel : resolve(root, rel)) };
}
