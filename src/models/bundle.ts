import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { BundleManifest, Dtype, Rgb } from '../schema/types/bundle.js';
import { assertValid } from '../schema/validator.js';

export type ModelDtype = Dtype;

/** bundle.json after validation (defaults filled in); the type is generated from schemas/bundle.schema.json. */
export type { BundleManifest };

export const SAM2_MEAN: Rgb = [0.485, 0.456, 0.406];
export const SAM2_STD: Rgb = [0.229, 0.224, 0.225];
export const CLIP_MEAN: Rgb = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: Rgb = [0.26862954, 0.26130258, 0.27577711];

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
