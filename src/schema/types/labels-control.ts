// Generated from schemas/labels-control.schema.json by scripts/schema-types.mjs (npm run schemas:types); do not edit.
// Properties with a schema default are required here: ajv fills them in when it validates.

/**
 * The newest message on the control topic replaces the label set of every running pipeline that listens to it.
 */
export interface LabelsControlMessage {
  /**
   * @minItems 1
   */
  labels: string[];
  template?: string;
}
