import sharp, { type OverlayOptions } from 'sharp';
import { objectTile } from './object-images.js';
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

const CAPTION = 40; // pixels under each tile for its caption (three lines)

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
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
    const tile = await objectTile(h, side);
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
