// Generated from schemas/prompts.schema.json by scripts/schema-types.mjs (npm run schemas:types); do not edit.
// Properties with a schema default are required here: ajv fills them in when it validates.

/**
 * Each prompt asks for one object: points (with labels 1 positive / 0 negative), a box, or both, in frame pixels.
 */
export type PromptsMessage = ({
  [k: string]: unknown;
} & {
  points?: number[][];
  labels?: (0 | 1)[];
  /**
   * [x1, y1, x2, y2] in frame pixels
   *
   * @minItems 4
   * @maxItems 4
   */
  box?: number[];
})[];
