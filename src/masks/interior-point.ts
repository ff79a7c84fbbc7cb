import type { Mask } from './mask.js';

/**
 * A deepest pixel of the mask (the last to survive repeated 4-neighbour erosion), the one
 * nearest the mask's centroid, as a pixel centre. Twin of the factory's `interior_point`:
 * evaluations click there.
 */
export function interiorPoint(mask: Mask): [number, number] | undefined {
  const { width: w, height: h } = mask;
  let cur = Uint8Array.from(mask.data);
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let i = 0; i < cur.length; i++) {
    if (!cur[i]) continue;
    sx += i % w;
    sy += Math.floor(i / w);
    n++;
  }
  if (n === 0) return undefined;
  for (;;) {
    const next = new Uint8Array(cur.length);
    let any = false;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        if (cur[i] && y > 0 && cur[i - w] && y < h - 1 && cur[i + w] && x > 0 && cur[i - 1] && x < w - 1 && cur[i + 1]) {
          next[i] = 1;
          any = true;
        }
      }
    }
    if (!any) break;
    cur = next;
  }
  const cx = sx / n;
  const cy = sy / n;
  let best = -1;
  let bestD = Infinity;
  for (let i = 0; i < cur.length; i++) {
    if (!cur[i]) continue;
    const d = (Math.floor(i / w) - cy) ** 2 + ((i % w) - cx) ** 2;
    if (d < bestD) {
      bestD = d;
      best = i;
    }
  }
  return [(best % w) + 0.5, Math.floor(best / w) + 0.5];
}
