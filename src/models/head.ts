import { OBJECT_CALL_CAP, inPlannedCalls, paddedRows, planCalls } from './batch-shapes.js';
import type { ModelSpec, OnnxModel } from './onnx-model.js';
import { float32, floatOutput } from './tensor.js';

/** channels: 3 per object scale (bundle.json head.object_scales). */
export function objectBranchSpec(size: number, channels = 3): ModelSpec {
  return {
    format: 'ogclip object branch',
    inputs: [{ name: 'object_pixels', type: 'float32', shape: [null, channels, size, size] }],
    outputs: [{ name: 'object_features', type: 'float32', shape: [null, null] }],
  };
}

export function maskBranchSpec(size: number): ModelSpec {
  return {
    format: 'ogclip mask branch',
    inputs: [{ name: 'object_mask', type: 'float32', shape: [null, 1, size, size] }],
    outputs: [{ name: 'mask_features', type: 'float32', shape: [null, null] }],
  };
}

export const fusionSpec: ModelSpec = {
  format: 'ogclip fusion',
  inputs: [
    { name: 'object_features', type: 'float32', shape: [null, null] },
    { name: 'mask_features', type: 'float32', shape: [null, null] },
    { name: 'clip_features', type: 'float32', shape: [null, null] },
  ],
  outputs: [{ name: 'fused', type: 'float32', shape: [null, null] }],
};

export const projectionSpec: ModelSpec = {
  format: 'ogclip projection',
  inputs: [{ name: 'fused', type: 'float32', shape: [null, null] }],
  outputs: [{ name: 'embeds', type: 'float32', shape: [null, null] }],
};

/** Rows of equal length stacked into one [B,D] tensor, and split back. */
export function stack(rows: readonly Float32Array[]): { dims: [number, number]; data: Float32Array } {
  const d = rows[0]?.length ?? 0;
  const data = new Float32Array(rows.length * d);
  rows.forEach((r, i) => data.set(r, i * d));
  return { dims: [rows.length, d], data };
}

export function unstack(data: Float32Array, rows: number): Float32Array[] {
  const d = data.length / Math.max(rows, 1);
  return Array.from({ length: rows }, (_, i) => data.slice(i * d, (i + 1) * d));
}

/** One head part: a [B,...] float input (or several) -> one [B,F] float output. */
export class HeadPart {
  constructor(
    private readonly model: OnnxModel,
    private readonly output: string,
  ) {}

  /** Every input [B,...] with the same B; one output row per input row. */
  async run(inputs: Record<string, { dims: readonly number[]; data: Float32Array }>): Promise<Float32Array[]> {
    const entries = Object.entries(inputs);
    const rows = entries[0]?.[1].dims[0] ?? 0;
    if (rows === 0) return [];
    return inPlannedCalls(planCalls(rows, this.model.batchShapes, OBJECT_CALL_CAP), async (c) => {
      const feeds = Object.fromEntries(
        entries.map(([k, v]) => [
          k,
          float32([c.size, ...v.dims.slice(1)], paddedRows(v.data, v.data.length / rows, c.start, c.rows, c.size)),
        ]),
      );
      const out = floatOutput(await this.model.run(feeds, [this.output]), this.output); // [size,F]
      return unstack(out.data, c.size);
    });
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}
