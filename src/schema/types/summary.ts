// Generated from schemas/summary.schema.json by scripts/schema-types.mjs (npm run schemas:types); do not edit.
// Properties with a schema default are required here: ajv fills them in when it validates.

export interface RunSummary {
  frames: number;
  objects: number;
  detections: number;
  dead_letters: number;
  dead_letter_reasons: {
    [k: string]: number;
  };
  /**
   * null when frames carry no ground truth
   */
  precision: number | null;
  recall: number | null;
  frames_per_second: number;
  seconds: number;
  mean_stage_ms: {
    [k: string]: number;
  };
  model: string;
}
