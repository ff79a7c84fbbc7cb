// Generated from schemas/detections.schema.json by scripts/schema-types.mjs (npm run schemas:types); do not edit.
// Properties with a schema default are required here: ajv fills them in when it validates.

/**
 * Objects whose best label scored over the threshold, after mask NMS.
 */
export interface DetectionsMessage {
  /**
   * streamId/frameId/modelVersion: stable, so a replay overwrites downstream
   */
  key: string;
  stream_id: string;
  frame_id: string;
  /**
   * capture time, ms since epoch
   */
  timestamp: number;
  model: {
    name: string;
    version: string;
  };
  width: number;
  height: number;
  traceparent?: string;
  detections: {
    object_id: number;
    label: string;
    score: number;
    /**
     * [x1, y1, x2, y2] in frame pixels
     *
     * @minItems 4
     * @maxItems 4
     */
    box: number[];
    mask: Rle;
  }[];
}
/**
 * Column-major runs of the mask, starting with a run of zeros (possibly 0 long); counts sum to height x width.
 */
export interface Rle {
  /**
   * [height, width]
   *
   * @minItems 2
   * @maxItems 2
   */
  size: number[];
  counts: number[];
}
