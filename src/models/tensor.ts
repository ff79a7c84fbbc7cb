/** A tensor as it crosses the worker boundary: element type, dims and a typed array. */
export type Tensor =
  | { readonly type: 'float32'; readonly dims: readonly number[]; readonly data: Float32Array }
  | { readonly type: 'int64'; readonly dims: readonly number[]; readonly data: BigInt64Array };

export type Feeds = Record<string, Tensor>;
export type Outputs = Record<string, Tensor>;

export function float32(dims: readonly number[], data: Float32Array): Tensor {
  checkSize(dims, data.length);
  return { type: 'float32', dims, data };
}

export function int64(dims: readonly number[], data: BigInt64Array): Tensor {
  checkSize(dims, data.length);
  return { type: 'int64', dims, data };
}

function checkSize(dims: readonly number[], length: number): void {
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== length) throw new RangeError(`tensor of dims [${dims.join(',')}] needs ${n} values, got ${length}`);
}

/** The float32 output `name`, or a clear error naming what the model returned instead. */
export function floatOutput(outputs: Outputs, name: string): Extract<Tensor, { type: 'float32' }> {
  const t = outputs[name];
  if (!t || t.type !== 'float32') throw new TypeError(`model output ${name} missing or not float32`);
  return t;
}
