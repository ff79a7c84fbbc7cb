import { maskIou } from '../masks/mask.js';
import type { Detection, GroundTruthObject } from '../record.js';

/**
 * Greedy matching, best score first: a detection is correct when its mask IoU with a
 * not-yet-matched ground-truth object is >= minIou and its label is that object's description.
 */
export function matchDetections(
  dets: readonly Detection[],
  truth: readonly GroundTruthObject[],
  minIou = 0.5,
): { correct: number; truth: number; detections: number } {
  const used = new Set<number>();
  let correct = 0;
  for (const d of [...dets].sort((a, b) => b.score - a.score)) {
    let best = -1;
    let bestIou = minIou;
    truth.forEach((t, i) => {
      if (used.has(i) || !t.mask || t.description !== d.label) return;
      const iou = maskIou(d.mask, t.mask);
      if (iou >= bestIou) {
        bestIou = iou;
        best = i;
      }
    });
    if (best >= 0) {
      used.add(best);
      correct++;
    }
  }
  return { correct, truth: truth.length, detections: dets.length };
}
