import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Detection } from '../record.js';
import type { Rgb } from '../tensor/image.js';
import type { SinkComponent } from '../topology/component.js';
import type { Sink } from './sink.js';

const PALETTE: readonly (readonly [number, number, number])[] = [
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
  [250, 190, 212],
];

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The frame's pixels with each detection's mask tinted, its box drawn and its label and score written. */
export async function annotate(rgb: Rgb, dets: readonly Detection[]): Promise<Buffer> {
  const { width: w, height: h } = rgb;
  const px = Buffer.from(rgb.data);
  dets.forEach((d, i) => {
    const [cr, cg, cb] = PALETTE[i % PALETTE.length]!;
    for (let p = 0; p < w * h; p++) {
      if (!d.mask.data[p]) continue;
      px[p * 3] = (px[p * 3]! * 0.7 + cr * 0.3) | 0;
      px[p * 3 + 1] = (px[p * 3 + 1]! * 0.7 + cg * 0.3) | 0;
      px[p * 3 + 2] = (px[p * 3 + 2]! * 0.7 + cb * 0.3) | 0;
    }
  });
  const font = Math.max(9, Math.round(Math.min(w, h) / 28));
  const shapes = dets
    .map((d, i) => {
      const [cr, cg, cb] = PALETTE[i % PALETTE.length]!;
      const [x1, y1, x2, y2] = d.box;
      const ty = y1 > font + 2 ? y1 - 3 : y2 + font;
      return (
        `<rect x="${x1}" y="${y1}" width="${x2 - x1}" height="${y2 - y1}" fill="none" stroke="rgb(${cr},${cg},${cb})" stroke-width="1.5"/>` +
        `<text x="${x1}" y="${ty}" font-family="sans-serif" font-size="${font}" fill="white" stroke="black" stroke-width="0.6" paint-order="stroke">` +
        `${escapeXml(d.label)} ${d.score.toFixed(2)}</text>`
      );
    })
    .join('');
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${shapes}</svg>`);
  return sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .composite([{ input: svg, top: 0, left: 0 }])
    .png()
    .toBuffer();
}

export interface AnnotatedPngOptions {
  readonly dir: string;
  readonly limit: number; // frames written at most (0: all), so long runs do not fill the disk
}

/** Writes annotated frames as PNG files named after stream and frame. */
export async function annotatedPngSink(options: AnnotatedPngOptions): Promise<Sink> {
  await mkdir(options.dir, { recursive: true });
  let written = 0;
  return {
    name: 'annotated-png',
    async write(records) {
      for (const r of records) {
        const image = r.image;
        if (r.error || !image) continue;
        if (options.limit > 0 && written >= options.limit) return;
        const name = `${r.streamId}-${r.frameId}`.replace(/[^A-Za-z0-9._-]+/g, '_');
        await sharp(await annotate(image.rgb, r.detections ?? [])).toFile(join(options.dir, `${name}.png`));
        written++;
      }
    },
    close: async () => {},
  };
}

/** `kind: annotated-png` in a topology's sinks. */
export const annotatedPngSinkComponent: SinkComponent<'annotated-png'> = {
  kind: 'annotated-png',
  resolvePaths: (o, abs) => (o.dir = abs(o.dir)),
  create: (o) => annotatedPngSink(o),
};
