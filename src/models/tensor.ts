/** A tensor as it crosses the worker boundary: element type, dims and a typed array. */
export type Tensor =
  | { readonly type: 'float32'; readonly dims: readonly number[]; readonly data: Float32Array }
  | { readonly type: 'int64'; readonly dims: readonly number[]; readonly data: BigInt64Array };

export type Feeds = Record<string, Tensor>;
export type Outputs = Record<string, Tensor>;

/** A tensor's element type and dims without its values: what is known of a kept output. */
export interface TensorInfo {
  readonly type: Tensor['type'];
  readonly dims: readonly number[];
}

/**
 * A feed naming an output kept in the inference worker (OnnxModel.runKeeping) instead of
 * carrying its values: only the handle id and the output name cross the thread boundary.
 */
export interface KeptTensor {
  readonly type: 'kept';
  readonly handle: number;
  readonly output: string;
}

/** What a run may be fed: values, or outputs an earlier run kept in the worker. */
export type RunFeeds = Record<string, Tensor | KeptTensor>;

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

// IEEE 754 half precision, for models exported in float16 (`*_fp16.onnx`). onnxruntime-node
// takes and gives 'float16' tensors as the raw bit patterns in a Uint16Array (Node has no
// Float16Array yet), so the conversion is done here, exactly, once at the session boundary.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The half-precision bits nearest to x (round to nearest, ties to even; overflow -> ±Infinity). */
export function halfBits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0); // Inf, NaN stays NaN
  const e = exp - 127 + 15; // the exponent re-biased for half
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // A half subnormal (m * 2^-24) or zero: shift the 24-bit significand into 10 bits.
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    const m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    return sign | (m + (rem > halfway || (rem === halfway && (m & 1) === 1) ? 1 : 0));
  }
  const h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, which is the right rounding (up to Infinity).
  return sign | (h + (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1) ? 1 : 0));
}

let halfTable: Float32Array | undefined;

/** Every half bit pattern's value (exact in float32), built on first use. */
function halves(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    t[h] = e === 0 ? s * m * 2 ** -24 : e === 0x1f ? (m !== 0 ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return (halfTable = t);
}

export function toFloat16(a: Float32Array): Uint16Array {
  const out = new Uint16Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = halfBits(a[i]!);
  return out;
}

export function fromFloat16(h: Uint16Array): Float32Array {
  const t = halves();
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = t[h[i]!]!;
  return out;
}
