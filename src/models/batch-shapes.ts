/**
 * How the adapters size the batch axis of their onnxruntime calls (topology `runtime.batchShapes`).
 *
 * powers-of-two: every call has 1, 2, 4, ... rows, up to a cap. onnxruntime plans memory and
 *   kernels for each input shape it has not seen yet, on the request that brings it: with exact
 *   sizes every new object count or prompt count paid that set-up in the middle of a stream (at
 *   real size it was most of a short run's time). With a few sizes, `warmUp` runs each once at
 *   start. A call is padded up to the next size when the padding costs at most a quarter of its
 *   rows, else split (37 rows: 32 + 4 + 1 rather than 64), so padding never wastes much model time.
 * exact: calls of exactly the rows asked for (the shapes onnxruntime sees vary with the data),
 *   cut at the same caps.
 * Other axes still vary with the data and are not warmed: points per prompt beyond one click
 * (several clicks, a box with clicks), the label count of a label-set update, and a worker that
 * supervision restarted starts cold.
 */
export type BatchShapes = 'powers-of-two' | 'exact';

/** One call: rows [start, start + rows) of the batch, run at `size` rows (size - rows of padding). */
export interface PlannedCall {
  readonly start: number;
  readonly rows: number;
  readonly size: number;
}

/**
 * The most rows (objects) of one CLIP vision or head call: bounds what one request sends to the
 * worker and what onnxruntime holds for it (400 crops at ViT-B/32's 224 x 224 are 240 MB in one
 * tensor; the stage still builds every crop of its micro-batch first), and the sizes `warmUp` runs.
 */
export const OBJECT_CALL_CAP = 64;

/** Padding is taken when it adds at most this fraction of the call's real rows. */
const MAX_PADDING = 0.25;

function largestPowerOfTwoAtMost(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}

/**
 * The calls that run n rows. `cap`: the most rows one call may take (for powers-of-two, the
 * largest power of two not above it). `pad: false` never pads, it only splits: for models whose
 * padded rows would cost as much as real ones and come few at a time (the SAM2 encoder).
 */
export function planCalls(n: number, shapes: BatchShapes, cap = Number.POSITIVE_INFINITY, pad = true): PlannedCall[] {
  if (!(n >= 0) || !Number.isInteger(n)) throw new RangeError(`planCalls: ${n} rows`);
  if (!(cap >= 1)) throw new RangeError(`planCalls: cap ${cap} must be >= 1`);
  const calls: PlannedCall[] = [];
  if (shapes === 'exact') {
    const step = Number.isFinite(cap) ? Math.floor(cap) : Math.max(n, 1);
    for (let start = 0; start < n; start += step) calls.push({ start, rows: Math.min(step, n - start), size: Math.min(step, n - start) });
    return calls;
  }
  const top = Number.isFinite(cap) ? largestPowerOfTwoAtMost(cap) : Number.POSITIVE_INFINITY;
  let start = 0;
  while (start < n) {
    const left = n - start;
    if (left >= top) {
      calls.push({ start, rows: top, size: top });
      start += top;
      continue;
    }
    const up = 2 ** Math.ceil(Math.log2(left));
    if (pad && up - left <= MAX_PADDING * left) {
      calls.push({ start, rows: left, size: up });
      return calls;
    }
    const down = largestPowerOfTwoAtMost(left);
    calls.push({ start, rows: down, size: down });
    start += down;
  }
  return calls;
}

/**
 * Every call size `planCalls` gives for batches of at most `maxRows` rows: what `warmUp` runs
 * once each. `capped`: maxRows is also the plan's cap (calls never exceed it); otherwise a batch
 * of maxRows rows may be padded up to the next power of two.
 */
export function callSizes(shapes: BatchShapes, maxRows: number, capped = true): number[] {
  if (shapes === 'exact') return [1];
  const top = capped ? largestPowerOfTwoAtMost(maxRows) : 2 ** Math.ceil(Math.log2(maxRows));
  const sizes: number[] = [];
  for (let s = 1; s <= top; s *= 2) sizes.push(s);
  return sizes;
}

/** Runs the planned calls one after another and concatenates their rows, in order. */
export async function inPlannedCalls<R>(calls: readonly PlannedCall[], run: (call: PlannedCall) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (const c of calls) {
    const rows = await run(c);
    if (rows.length < c.rows) throw new Error(`a call of ${c.size} rows returned ${rows.length}, fewer than the ${c.rows} asked for`);
    for (let i = 0; i < c.rows; i++) out.push(rows[i]!);
  }
  return out;
}

/** `rows` rows of `rowLength` values from `data` starting at row `start`, zero rows up to `size`. */
export function paddedRows(data: Float32Array, rowLength: number, start: number, rows: number, size: number): Float32Array {
  if (start === 0 && rows === size && data.length === size * rowLength) return data;
  const out = new Float32Array(size * rowLength); // [size, rowLength], the padding zeros
  out.set(data.subarray(start * rowLength, (start + rows) * rowLength));
  return out;
}
