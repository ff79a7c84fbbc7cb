import { maskBox, type Box, type Mask } from './mask.js';
import { maskPlanes, type Chw, type Planes } from '../tensor/image.js';
import { resizePlanes } from '../tensor/resize.js';

/** Pixels of the window outside the mask: set to 0 ("masked") or kept from the frame ("kept"). */
export type CropContext = 'masked' | 'kept';

/**
 * How an object crop is framed (twin of `preprocess.crop_window` / `masked_crop`). The head's own
 * crops use an object window from the bundle's `head` section; the crop baseline uses bundle.json's
 * `crop_baseline` when present.
 * - window "object": side = ceil(longer mask-box side * margin) + pad, so every object fills its
 *   crop (its absolute size is lost);
 * - window "fixed": side = floor(sideFraction * longer frame side + 0.5), so absolute size survives.
 */
export type CropSpec =
  | {
      readonly window: 'object';
      readonly margin: number; // crop side relative to the mask box's longer side
      readonly pad: number; // pixels added to the side, so tiny objects keep some context
      readonly context: CropContext;
    }
  | {
      readonly window: 'fixed';
      readonly sideFraction: number; // crop side relative to the frame's longer side, in (0, 1]
      readonly context: CropContext;
    };

/** The crop baseline's framing when a bundle says nothing (no `crop_baseline`, no head). */
export const DEFAULT_CROP: CropSpec = { window: 'object', margin: 1.25, pad: 4, context: 'masked' };

/**
 * Square window around a mask (at frame resolution): [x0, y0, side], centred on the mask box;
 * may extend past the frame. An empty mask gives the whole frame: [0, 0, max(W, H)]. `box`, when
 * the caller has it, is the mask's tight box (maskBox), saving a scan of the frame.
 */
export function cropWindow(mask: Mask, spec: CropSpec, box: Box | undefined = maskBox(mask)): [number, number, number] {
  if (!box) return [0, 0, Math.max(mask.width, mask.height)];
  const [x1, y1, x2, y2] = box;
  const side =
    spec.window === 'object'
      ? Math.ceil(Math.max(x2 - x1, y2 - y1) * spec.margin) + spec.pad
      : // At least one pixel: a fraction of a tiny frame could round to an empty window.
        Math.max(1, Math.floor(spec.sideFraction * Math.max(mask.width, mask.height) + 0.5));
  return [Math.floor((x1 + x2 - side) / 2), Math.floor((y1 + y2 - side) / 2), side];
}

/**
 * The object's square window of a normalised frame [C,H,W], resized to [C,size,size]. Pixels of
 * the window outside the frame are 0 (the normalised mean); with context "masked", so are those
 * outside the mask, with "kept" the frame's pixels stay. Twin of `preprocess.masked_crop`.
 * The window is never stored: the resize reads its rows from the frame on demand, and when it
 * shrinks the window (the usual case) only where they can be non-zero (inside the frame, and for
 * "masked" inside the mask's box), so a large window (a mask as large as the frame: side 1.25 x
 * the frame's) costs one pass over the object, not a copy of the window and a pass over it.
 */
export function maskedCrop(frame: Planes, mask: Mask, size: number, spec: CropSpec, box?: Box): Chw {
  const { channels: c, height: H, width: W } = frame;
  if (mask.width !== W || mask.height !== H) {
    throw new Error(`maskedCrop: mask is ${mask.width}x${mask.height} but the frame is ${W}x${H}`);
  }
  const tight = box ?? maskBox(mask);
  const [x0, y0, side] = cropWindow(mask, spec, tight);
  const kept = spec.context === 'kept';
  const sx0 = Math.max(x0, 0);
  const sy0 = Math.max(y0, 0);
  const sx1 = Math.min(x0 + side, W);
  const sy1 = Math.min(y0 + side, H);
  const frameRow = new Float32Array(W);
  const window: Planes = {
    channels: c,
    height: side,
    width: side,
    // Row wy of the window [C,side,side], columns [a, b) filled (window coordinates).
    row: (ch, wy, scratch, a = 0, b = side) => {
      scratch.fill(0, a, b);
      const y = wy + y0;
      const xa = Math.max(a + x0, sx0);
      const xb = Math.min(b + x0, sx1);
      if (y < sy0 || y >= sy1 || xa >= xb) return scratch;
      const row = frame.row(ch, y, frameRow, xa, xb);
      const m = y * W;
      for (let x = xa; x < xb; x++) if (kept || mask.data[m + x]) scratch[x - x0] = row[x]!;
      return scratch;
    },
  };
  // Where the window may be non-zero, in window coordinates: the frame, and the mask's box.
  const [bx1, by1, bx2, by2] = kept || !tight ? [sx0, sy0, sx1, sy1] : tight;
  const nonZero = [Math.max(bx1, sx0) - x0, Math.max(by1, sy0) - y0, Math.min(bx2, sx1) - x0, Math.min(by2, sy1) - y0] as const;
  return resizePlanes(window, size, size, nonZero);
}

/**
 * Full-frame mask -> [1,size,size] float: keeps where the object is and how large. `box`: the
 * mask's tight box (maskBox), when the caller has it; only the frame inside it is read.
 */
export function maskInput(mask: Mask, size: number, box: Box | undefined = maskBox(mask)): Chw {
  if (!box) return { data: new Float32Array(size * size), channels: 1, height: size, width: size };
  return resizePlanes(maskPlanes(mask), size, size, box);
}

/**
 * CLIP branch input of one object: the frame's patch tokens (lastHidden [1+G*G, D], CLS first)
 * averaged under the mask resized to G x G, then the frame's image embedding [E].
 */
export function poolTokens(
  lastHidden: Float32Array,
  tokens: number,
  dim: number,
  imageEmbeds: Float32Array,
  mask: Mask,
  box: Box | undefined = maskBox(mask),
): Float32Array {
  const g = Math.round(Math.sqrt(tokens - 1));
  const weights = box ? resizePlanes(maskPlanes(mask), g, g, box).data : new Float32Array(g * g);
  let total = 0;
  for (const v of weights) total += v;
  const out = new Float32Array(dim + imageEmbeds.length);
  for (let t = 0; t < g * g; t++) {
    const wgt = total > 0 ? weights[t]! / total : 1 / (g * g);
    if (wgt === 0) continue;
    const row = (t + 1) * dim;
    for (let d = 0; d < dim; d++) out[d] = out[d]! + wgt * lastHidden[row + d]!;
  }
  out.set(imageEmbeds, dim);
  return out;
}
