/** A binary mask at frame resolution, row-major, 1 byte per pixel. */
export interface Mask {
  readonly data: Uint8Array; // [H,W] 0 | 1
  readonly width: number;
  readonly height: number;
}

/** Box in pixels: [x1, y1, x2, y2], x2/y2 exclusive. */
export type Box = readonly [number, number, number, number];

export function maskArea(m: Mask): number {
  let n = 0;
  for (let i = 0; i < m.data.length; i++) n += m.data[i]!;
  return n;
}

/** A box, or undefined when it has no area (an empty mask's [0, 0, 0, 0]). */
export function nonEmptyBox(b: Box): Box | undefined {
  return b[2] > b[0] && b[3] > b[1] ? b : undefined;
}

/** The tight box of a mask, or undefined when the mask is empty. */
export function maskBox(m: Mask): Box | undefined {
  let x1 = m.width;
  let y1 = m.height;
  let x2 = -1;
  let y2 = -1;
  for (let y = 0; y < m.height; y++) {
    const row = y * m.width;
    for (let x = 0; x < m.width; x++) {
      if (m.data[row + x]) {
        if (x < x1) x1 = x;
        if (x > x2) x2 = x;
        if (y < y1) y1 = y;
        if (y > y2) y2 = y;
      }
    }
  }
  return x2 < 0 ? undefined : [x1, y1, x2 + 1, y2 + 1];
}

export function maskIou(a: Mask, b: Mask): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i]!;
    const y = b.data[i]!;
    inter += x & y;
    union += x | y;
  }
  return union === 0 ? 1 : inter / union;
}

export function boxIou(a: Box, b: Box): number {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union <= 0 ? 0 : inter / union;
}

/** A box as a mask: the pixels whose centres lie inside it (edges included). */
export function boxMask(box: Box, width: number, height: number): Mask {
  const data = new Uint8Array(width * height);
  const [x1, y1, x2, y2] = box;
  for (let y = 0; y < height; y++) {
    if (y + 0.5 < y1 || y + 0.5 > y2) continue;
    for (let x = 0; x < width; x++) if (x + 0.5 >= x1 && x + 0.5 <= x2) data[y * width + x] = 1;
  }
  return { data, width, height };
}
