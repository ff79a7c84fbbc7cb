import { readFile } from 'node:fs/promises';
import sharp, { type OverlayOptions } from 'sharp';
import { decodeRle } from '../masks/rle.js';
import type { ObjectHit } from './object-index.js';

export interface ContactSheetOptions {
  /** Side of each square tile, pixels. */
  readonly tile?: number;
  /** Tiles per row. */
  readonly columns?: number;
}

/** A sheet and the hits whose frames could not be drawn, with why. */
export interface ContactSheet {
  readonly png: Buffer;
  readonly undrawn: readonly { readonly key: string; readonly reason: string }[];
}

// Cyan: apart from every colour of the shapes scenes, and from most of what photographs hold.
const OUTLINE = [0, 255, 255] as const;
const CAPTION = 40; // pixels under each tile for its caption (three lines)

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Where a hit's frame bytes can be read again, or why they cannot. */
function framePath(h: ObjectHit): string | { reason: string } {
  const o = h.origin;
  if (o.kind === 'file' || o.kind === 'dataset') return o.path;
  if (o.kind === 'kafka') {
    return {
      reason: `frame from Kafka ${o.topic}/${o.partition}@${o.offset}: the index keeps no pixels and a topic cannot be re-read by key`,
    };
  }
  return { reason: 'frame was given in memory: nothing to read it from' };
}

/**
 * The frame around the hit's box (with a margin), with the mask's outline drawn over it, fitted
 * into a tile. The frame is decoded as the decode stage does (EXIF orientation applied), so the
 * mask, made at that resolution, lies on the same pixels.
 */
async function tileOf(h: ObjectHit, side: number): Promise<Buffer | { reason: string }> {
  const path = framePath(h);
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
  const [mh, mw] = h.mask.size;
  if (mw !== width || mh !== height) return { reason: `${path}: the file is ${width}x${height} now, the indexed mask ${mw}x${mh}` };
  const mask = decodeRle(h.mask);
  const [x0, y0, x1, y1] = h.box;
  const margin = Math.round(Math.max(x1 - x0, y1 - y0) * 0.25) + 2;
  const left = Math.max(0, Math.floor(x0 - margin));
  const top = Math.max(0, Math.floor(y0 - margin));
  const right = Math.min(width, Math.ceil(x1 + margin));
  const bottom = Math.min(height, Math.ceil(y1 + margin));
  // The outline is drawn thick enough to stay visible once the crop is scaled to the tile.
  const thick = Math.max(1, Math.round(Math.max(right - left, bottom - top) / side));
  const px = Buffer.from(data);
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && mask.data[y * width + x] === 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!inside(x, y) || (inside(x - 1, y) && inside(x + 1, y) && inside(x, y - 1) && inside(x, y + 1))) continue;
      for (let dy = 0; dy < thick; dy++) {
        for (let dx = 0; dx < thick; dx++) {
          const [u, v] = [x + dx - (thick >> 1), y + dy - (thick >> 1)];
          if (u >= 0 && v >= 0 && u < width && v < height) px.set(OUTLINE, (v * width + u) * 3);
        }
      }
    }
  }
  return sharp(px, { raw: { width, height, channels: 3 } })
    .extract({ left, top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) })
    .resize(side, side, { fit: 'contain', background: { r: 32, g: 32, b: 32 } })
    .png()
    .toBuffer();
}

/**
 * A contact sheet of search hits: per hit the frame crop with its mask outlined, captioned with
 * rank, score and top label. A hit whose frame cannot be read again (Kafka, a moved file) gets a
 * grey tile saying so, and is listed in `undrawn`.
 */
export async function contactSheet(hits: readonly ObjectHit[], o: ContactSheetOptions = {}): Promise<ContactSheet> {
  const side = o.tile ?? 160;
  const columns = Math.max(1, Math.min(o.columns ?? 5, hits.length));
  const rows = Math.max(1, Math.ceil(hits.length / columns));
  const undrawn: { key: string; reason: string }[] = [];
  const layers: OverlayOptions[] = [];
  const captions: string[] = [];
  for (const [i, h] of hits.entries()) {
    const left = (i % columns) * side;
    const top = Math.floor(i / columns) * (side + CAPTION);
    const tile = await tileOf(h, side);
    if (Buffer.isBuffer(tile)) layers.push({ input: tile, left, top });
    else {
      undrawn.push({ key: h.key, reason: tile.reason });
      captions.push(
        `<text x="${left + 6}" y="${top + side / 2}" font-family="sans-serif" font-size="11" fill="#ddd">not re-readable: ${escapeXml(h.origin.kind)}</text>`,
      );
    }
    const label = h.labels[0]?.label ?? '';
    const fit = (text: string) => escapeXml(text.length > side / 6.5 ? `…${text.slice(-Math.floor(side / 6.5) + 1)}` : text);
    const line = (n: number, text: string, fill: string) =>
      `<text x="${left + 4}" y="${top + side + 12 * n}" font-family="sans-serif" font-size="11" fill="${fill}">${text}</text>`;
    captions.push(
      line(1, `#${i + 1}  ${h.score.toFixed(3)}`, 'white') +
        line(2, fit(`${h.streamId}/${h.frameId}`), '#ccc') +
        line(3, fit(label), '#ccc'),
    );
  }
  const width = columns * side;
  const height = rows * (side + CAPTION);
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${captions.join('')}</svg>`);
  const png = await sharp({ create: { width, height, channels: 3, background: { r: 64, g: 64, b: 64 } } })
    .composite([...layers, { input: svg, left: 0, top: 0 }])
    .png()
    .toBuffer();
  return { png, undrawn };
}
