// Generated from schemas/dead-letter.schema.json by scripts/schema-types.mjs (npm run schemas:types); do not edit.
// Properties with a schema default are required here: ajv fills them in when it validates.

/**
 * A frame that failed, with the original bytes and why. On Kafka the value is the original message and these fields travel as headers (ogclip-error-*, ogclip-source-*).
 */
export interface DeadLetterMessage {
  key: string;
  stream_id: string;
  frame_id: string;
  error: {
    stage: 'source' | 'decode' | 'sam2' | 'branches' | 'fusion' | 'projection' | 'embed' | 'similarity' | 'sink';
    code:
      | 'empty-input'
      | 'unsupported-format'
      | 'corrupt-image'
      | 'image-too-large'
      | 'bad-message'
      | 'bad-prompt'
      | 'unreadable-reference'
      | 'inference-failed'
      | 'internal'
      | 'sink-failed';
    message: string;
  };
  origin: {
    kind: 'kafka' | 'file' | 'dataset' | 'memory';
  };
  content_type?: string;
  payload_base64: string;
  headers?: {
    [k: string]: string;
  };
  failed_at: string;
}
