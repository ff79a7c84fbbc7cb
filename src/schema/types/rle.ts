// Generated from schemas/rle.schema.json by scripts/schema-types.mjs (npm run schemas:types); do not edit.
// Properties with a schema default are required here: ajv fills them in when it validates.

/**
 * Column-major runs of the mask, starting with a run of zeros (possibly 0 long); counts sum to height x width.
 */
export interface RleMessage {
  /**
   * [height, width]
   *
   * @minItems 2
   * @maxItems 2
   */
  size: number[];
  counts: number[];
}
