import type { Mask } from '../masks/mask.js';
import type { Chw } from './image.js';
import { resize } from './resize.js';

/** How the object crop is framed; values come from the bundle's `head` section. */
export interface CropSpec {
  readonly margin: number; // crop side relative to the mask box's longer side
  readonly pad: number; // pixels added to the side, so tiny objects keep some context
}

/** Square window around a mask: [x0, y0, side]; may extend past the frame. */
export function cropWindow(mask: Mask, spec: CropSpec): [number, number, number] {
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if (mask.data[y * mask.width + x]) {
        x1 = Math.min(x1, x);
        x2 = Math.max(x2, x + 1);
        y1 = Math.min(y1, y);
        y2 = Math.max(y2, y + 1);
      }
    }
  }
  if (x2 < 0) return [0, 0, Math.max(mask.width, mask.height)];
  const side = Math.ceil(Math.max(x2 - x1, y2 - y1) * spec.margin) + spec.pad;
  return [Math.floor((x1 + x2 - side) / 2), Math.floor((y1 + y2 - side) / 2), side];
}

/**
 * The object's square window of a normalised frame with everything outside the mask (and
 * outside the frame) set to 0, resized to [C,size,size]. Twin of `preprocess.masked_crop`.
 */
export function maskedCrop(frame: Chw, mask: Mask, size: number, spec: CropSpec): Chw {
  const [x0, y0, side] = cropWindow(mask, spec);
  const { channels: c, height: H, width: W } = frame;
  const win = new Float32Array(c * side * side);
  const sx0 = Math.max(x0, 0);
  const sy0 = Math.max(y0, 0);
  const sx1 = Math.min(x0 + side, W);
  const sy1 = Math.min(y0 + side, H);
  for (let ch = 0; ch < c; ch++) {
    for (let y = sy0; y < sy1; y++) {
      for (let x = sx0; x < sx1; x++) {
        if (mask.data[y * W + x]) win[ch * side * side + (y - y0) * side + (x - x0)] = frame.data[ch * H * W + y * W + x]!;
      }
    }
  }
  return resize({ data: win, channels: c, height: side, width: side }, size, size);
}

/** Full-frame mask -> [1,size,size] float: keeps where the object is and how large. */
export function maskInput(mask: Mask, size: number): Chw {
  return resize(maskAsChw(mask), size, size);
}

export function maskAsChw(mask: Mask): Chw {
  return { data: Float32Array.from(mask.data), channels: 1, height: mask.height, width: mask.width };
}

/**
 * CLIP branch input of one object: the frame's patch tokens (lastHidden [1+G*G, D], CLS first)
 * averaged under the mask resized to G x G, then the frame's image embedding [E].
 */
export function poolTokens(lastHidden: Float32Array, tokens: number, dim: number, imageEmbeds: Float32Array, mask: Mask): Float32Array {
  const g = Math.round(Math.sqrt(tokens - 1));
  const weights = resize(maskAsChw(mask), g, g).data;
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
