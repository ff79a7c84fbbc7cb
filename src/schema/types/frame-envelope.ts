// Generated from schemas/frame-envelope.schema.json by scripts/schema-types.mjs (npm run schemas:types); do not edit.
// Properties with a schema default are required here: ajv fills them in when it validates.

/**
 * A frame sent as JSON: the image inline as base64, or a reference for frames too big to inline (claim check).
 */
export type FrameEnvelope = {
  stream_id?: string;
  frame_id: string;
  timestamp?: number;
  content_type?: 'image/jpeg' | 'image/png' | 'image/webp';
  image_base64?: string;
  /**
   * file:// (inside the source's referenceRoots) or http(s):// (when allowHttpReferences)
   */
  image_ref?: string;
  prompts?: PromptsMessage;
} & {
  [k: string]: unknown;
};
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
