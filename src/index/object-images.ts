import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { decodeRle } from '../masks/rle.js';
import type { IndexedObject } from './object-index.js';

/** Why an indexed object's frame cannot be drawn (it came from Kafka, the file moved, ...). */
export interface Undrawable {
  readonly reason: string;
}

// Cyan: apart from every colour of the shapes scenes, and from most of what photographs hold.
const OUTLINE = [0, 255, 255] as const;

/** Where an object's frame bytes can be read again, or why they cannot. */
function framePath(o: IndexedObject): string | Undrawable {
  const origin = o.origin;
  if (origin.kind === 'file' || origin.kind === 'dataset') return origin.path;
  if (origin.kind === 'kafka') {
    return {
      reason: `frame from Kafka ${origin.topic}/${origin.partition}@${origin.offset}: the index keeps no pixels and a topic cannot be re-read by key`,
    };
  }
  return { reason: 'frame was given in memory: nothing to read it from' };
}

/**
 * The object's frame, decoded as the decode stage does (EXIF orientation applied, so the mask,
 * made at that resolution, lies on the same pixels), with the mask's outline drawn `thick` pixels
 * wide: raw RGB.
 */
async function outlinedFrame(o: IndexedObject, thick: (width: number, height: number) => number) {
  const path = framePath(o);
  if (typeof path !== 'string') return path;
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    return { reason: `${path}: cannot read the frame (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  let data: Buffer;
  let width: number;
  let height: number;
  try {
    const out = await sharp(bytes).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    ({ data } = out);
    ({ width, height } = out.info);
  } catch (err) {
    return { reason: `${path}: cannot decode the frame (${(err as Error).message})` };
  }
  const [mh, mw] = o.mask.size;
  if (mw !== width || mh !== height) return { reason: `${path}: the file is ${width}x${height} now, the indexed mask ${mw}x${mh}` };
  const mask = decodeRle(o.mask);
  const t = thick(width, height);
  const px = data; // [H,W,3], sharp's own buffer: drawn on in place
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && mask.data[y * width + x] === 1;
  // Only the mask's box can hold its edge.
  const [x0, y0, x1, y1] = o.box;
  for (let y = Math.max(0, y0); y < Math.min(height, y1); y++) {
    for (let x = Math.max(0, x0); x < Math.min(width, x1); x++) {
      if (!inside(x, y) || (inside(x - 1, y) && inside(x + 1, y) && inside(x, y - 1) && inside(x, y + 1))) continue;
      for (let dy = 0; dy < t; dy++) {
        for (let dx = 0; dx < t; dx++) {
          const [u, v] = [x + dx - (t >> 1), y + dy - (t >> 1)];
          if (u >= 0 && v >= 0 && u < width && v < height) px.set(OUTLINE, (v * width + u) * 3);
        }
      }
    }
  }
  return { px, width, height };
}

/**
 * The frame around the object's box (with a margin), its mask outlined, fitted into a `side` x
 * `side` PNG tile; or why the frame cannot be drawn.
 */
export async function objectTile(o: IndexedObject, side: number): Promise<Buffer | Undrawable> {
  const [x0, y0, x1, y1] = o.box;
  const margin = Math.round(Math.max(x1 - x0, y1 - y0) * 0.25) + 2;
  const span = Math.max(x1 - x0, y1 - y0) + 2 * margin;
  // The outline is drawn thick enough to stay visible once the crop is scaled to the tile.
  const frame = await outlinedFrame(o, () => Math.max(1, Math.round(span / side)));
  if (!('px' in frame)) return frame;
  const { px, width, height } = frame;
  const left = Math.max(0, Math.floor(x0 - margin));
  const top = Math.max(0, Math.floor(y0 - margin));
  const right = Math.min(width, Math.ceil(x1 + margin));
  const bottom = Math.min(height, Math.ceil(y1 + margin));
  return sharp(px, { raw: { width, height, channels: 3 } })
    .extract({ left, top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) })
    .resize(side, side, { fit: 'contain', background: { r: 32, g: 32, b: 32 } })
    .png()
    .toBuffer();
}

/** The whole frame with the object's mask outlined, no larger than `maxSide` on its longer side: PNG. */
export async function objectFrame(o: IndexedObject, maxSide: number): Promise<Buffer | Undrawable> {
  const frame = await outlinedFrame(o, (w, h) => Math.max(1, Math.round(Math.max(w, h) / maxSide)));
  if (!('px' in frame)) return frame;
  const { px, width, height } = frame;
  return sharp(px, { raw: { width, height, channels: 3 } })
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .png()
    .toBuffer();
}
