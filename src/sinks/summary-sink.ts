import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { matchDetections } from '../eval/match-detections.js';
import type { SinkComponent } from '../topology/component.js';
import type { RunSummary } from '../schema/types/summary.js';
import type { Sink } from './sink.js';

export type { RunSummary };

/**
 * Counts what went through and, when frames carry ground truth (dataset replay), scores the
 * detections: precision and recall with a match at mask IoU >= 0.5 and the right label.
 * Writes the summary JSON on close when given a path; `summary()` reads it at any time.
 */
export async function summarySink(
  path: string | undefined,
  clock: () => number = () => performance.now(),
): Promise<Sink & { summary(): RunSummary }> {
  if (path) await mkdir(dirname(path), { recursive: true });
  const start = clock();
  let frames = 0;
  let objects = 0;
  let detections = 0;
  let dead = 0;
  let correct = 0;
  let truth = 0;
  let scoredDetections = 0;
  let withTruth = false;
  let model = '';
  const reasons: Record<string, number> = {};
  const stageMs: Record<string, number> = {};
  const summary = (): RunSummary => {
    const seconds = (clock() - start) / 1000;
    return {
      frames,
      objects,
      detections,
      dead_letters: dead,
      dead_letter_reasons: reasons,
      precision: withTruth ? (scoredDetections ? correct / scoredDetections : 0) : null,
      recall: withTruth ? (truth ? correct / truth : 0) : null,
      frames_per_second: seconds > 0 ? frames / seconds : 0,
      seconds,
      mean_stage_ms: Object.fromEntries(Object.entries(stageMs).map(([k, v]) => [k, frames ? v / frames : 0])),
      model,
    };
  };
  return {
    name: 'summary',
    async write(records, ctx) {
      model = `${ctx.modelName}@${ctx.modelVersion}`;
      for (const r of records) {
        frames++;
        if (r.error) {
          dead++;
          reasons[r.error.code] = (reasons[r.error.code] ?? 0) + 1;
          continue;
        }
        objects += r.objects?.length ?? 0;
        detections += r.detections?.length ?? 0;
        for (const [k, v] of Object.entries(r.timings)) stageMs[k] = (stageMs[k] ?? 0) + (v ?? 0);
        if (r.groundTruth) {
          withTruth = true;
          const m = matchDetections(r.detections ?? [], r.groundTruth);
          correct += m.correct;
          truth += m.truth;
          scoredDetections += m.detections;
        }
      }
    },
    summary,
    async close() {
      if (path) await writeFile(path, JSON.stringify(summary(), null, 2) + '\n');
    },
  };
}

/** `kind: summary` in a topology's sinks. */
export const summarySinkComponent: SinkComponent<'summary'> = {
  kind: 'summary',
  resolvePaths: (o, abs) => (o.path = abs(o.path)),
  create: (o) => summarySink(o.path),
};
