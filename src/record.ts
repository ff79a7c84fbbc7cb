import type { DeadLetterMessage } from './schema/types/dead-letter.js';
import type { FrameErrorCode } from './errors.js';
import type { Box, Mask } from './masks/mask.js';
import type { Sam2Prompt } from './models/sam2.js';
import { planesOf, type Chw, type Planes, type Rgb } from './tensor/image.js';

/** The stages, in pipeline order; errors and timings are keyed by them. */
export type StageName = DeadLetterMessage['error']['stage']; // listed once, in schemas/dead-letter.schema.json

/** Where a frame came from; Kafka coordinates let the source commit and the DLQ point back. */
export type FrameOrigin =
  | { readonly kind: 'kafka'; readonly topic: string; readonly partition: number; readonly offset: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'dataset'; readonly path: string; readonly index: number }
  | { readonly kind: 'memory' };

/** Ground truth carried by dataset replay, for evaluation sinks. */
export interface GroundTruthObject {
  readonly description: string;
  readonly box: Box;
  readonly mask?: Mask;
}

export interface FrameError {
  readonly stage: StageName;
  readonly code: FrameErrorCode;
  readonly message: string;
}

/** One label of an object and its score (softmax probability or cosine, by the similarity settings). */
export interface ObjectLabel {
  readonly label: string;
  readonly score: number;
}

/** What the sam2 stage guarantees of every object; every later state keeps it unchanged. */
export interface ObjectBase {
  readonly index: number;
  readonly prompt: Sam2Prompt;
  readonly mask: Mask;
  /** The mask's tight box (`maskBox`), [0, 0, 0, 0] when the mask is empty: later stages read it instead of scanning the frame. */
  readonly box: Box;
  readonly score: number; // predicted IoU of the chosen mask
}

/** sam2 output: a mask and its box, nothing computed from them yet. */
export interface SegmentedObject extends ObjectBase {
  readonly state: 'segmented';
}

/** branches output: the three inputs of the object-guided head's fusion. */
export interface BranchedObject extends ObjectBase {
  readonly state: 'branched';
  readonly objectFeatures: Float32Array; // [Fo]
  readonly maskFeatures: Float32Array; // [Fm]
  readonly clipFeatures: Float32Array; // [Dv+E]
}

/** fusion output: one fused vector; the branch features are gone. */
export interface FusedObject extends ObjectBase {
  readonly state: 'fused';
  readonly fused: Float32Array;
}

/** projection or crop-embed output: the object's embedding, L2-normalised, in CLIP's text space. */
export interface EmbeddedObject extends ObjectBase {
  readonly state: 'embedded';
  readonly embedding: Float32Array;
}

/** similarity output: the embedding and the object's best labels, best first. */
export interface LabelledObject extends ObjectBase {
  readonly state: 'labelled';
  readonly embedding: Float32Array;
  readonly labels: readonly ObjectLabel[];
}

/**
 * One object found in a frame, in the state of the last stage that touched it. Each stage reads
 * the state the stage before it guarantees (`objectsAt`) and replaces the object by a new one in
 * its own state: no field is ever filled in or deleted.
 */
export type ObjectState = SegmentedObject | BranchedObject | FusedObject | EmbeddedObject | LabelledObject;

export type ObjectStateName = ObjectState['state'];

/** The object type of one state (or of any of several): `ObjectAt<'embedded' | 'labelled'>`. */
export type ObjectAt<S extends ObjectStateName> = Extract<ObjectState, { readonly state: S }>;

/** The decoded frame: its pixels and the model inputs made from them (decode stage). */
export interface FrameImage {
  rgb: Rgb;
  sam2Input: Chw;
  clipFrame: Planes; // the frame, CLIP-normalised on read: crops are cut from it
  clipInput: Chw;
}

export interface Detection {
  readonly objectIndex: number;
  readonly label: string;
  readonly score: number;
  readonly box: Box;
  readonly mask: Mask;
}

/**
 * One record per frame. Stages add to it; a stage that fails on this frame sets `error` and
 * the later stages pass it along untouched, so the failure reaches the dead-letter sink as data.
 */
export interface FrameRecord {
  readonly streamId: string;
  readonly frameId: string;
  readonly timestamp: number; // capture time, ms since epoch
  readonly receivedAt: number; // when the source read it, ms since epoch (performance clock for staleness)
  readonly origin: FrameOrigin;
  readonly payload: Uint8Array; // the image bytes
  readonly original?: Uint8Array; // the message as received, when the image was taken out of it (envelope)
  readonly contentType?: string;
  readonly prompts?: readonly Sam2Prompt[]; // from the message; absent: automatic masks
  readonly traceparent?: string;
  readonly groundTruth?: readonly GroundTruthObject[];
  readonly headers?: Readonly<Record<string, string>>;
  error?: FrameError;
  image?: FrameImage;
  objects?: ObjectState[];
  detections?: Detection[];
  timings: Partial<Record<StageName, number>>;
}

export function recordKey(r: Pick<FrameRecord, 'streamId' | 'frameId'>, modelVersion: string): string {
  return `${r.streamId}/${r.frameId}/${modelVersion}`;
}

export function fail(r: FrameRecord, stage: StageName, code: FrameErrorCode, message: string): FrameRecord {
  if (!r.error) r.error = { stage, code, message };
  // Large intermediates are dropped at once: a failed frame must not hold memory on its way to the DLQ.
  delete r.image;
  return r;
}

/** The fields every object state shares, copied: the start of the next state's object. */
export function objectBase(o: ObjectBase): ObjectBase {
  return { index: o.index, prompt: o.prompt, mask: o.mask, box: o.box, score: o.score };
}

/** Whether an object is in one of the given states (a type guard). */
export function isAt<S extends ObjectStateName>(o: ObjectState, ...states: readonly [S, ...S[]]): o is ObjectAt<S> {
  return (states as readonly ObjectStateName[]).includes(o.state);
}

/** The object's embedding, where its state has one. */
export function embeddingOf(o: ObjectState): Float32Array | undefined {
  return o.state === 'embedded' || o.state === 'labelled' ? o.embedding : undefined;
}

/** The object's labels, where its state has them. */
export function labelsOf(o: ObjectState): readonly ObjectLabel[] | undefined {
  return o.state === 'labelled' ? o.labels : undefined;
}

const quoted = (states: readonly string[]) => states.map((s) => `'${s}'`).join(' or ');

/**
 * The objects of a record, narrowed to the state(s) `stage` reads. A record whose objects are
 * missing or in another state met a stage chain wired in the wrong order: that record fails with
 * code 'internal' (its message naming the expected and the found state) and `undefined` is
 * returned; the other records go on.
 */
export function objectsAt<S extends ObjectStateName>(
  r: FrameRecord,
  stage: StageName,
  ...states: readonly [S, ...S[]]
): ObjectAt<S>[] | undefined {
  const objects = r.objects;
  if (!objects) {
    fail(r, stage, 'internal', `${stage} expects objects in state ${quoted(states)}, found no objects (no sam2 stage before it)`);
    return undefined;
  }
  if (objects.every((o): o is ObjectAt<S> => isAt(o, ...states))) return objects;
  const wrong = objects.find((o) => !isAt(o, ...states));
  fail(
    r,
    stage,
    'internal',
    `${stage} expects objects in state ${quoted(states)}, found '${wrong?.state}' (object ${wrong?.index} of ${objects.length})`,
  );
  return undefined;
}

/**
 * The decoded image of a record. A record without one (no decode stage before `stage`, or the
 * image already released) fails with code 'internal' and `undefined` is returned.
 */
export function imageOf(r: FrameRecord, stage: StageName): FrameImage | undefined {
  if (r.image) return r.image;
  fail(r, stage, 'internal', `${stage} expects a decoded image, found none (no decode stage before it)`);
  return undefined;
}

/** Frees per-frame tensors once a record's outputs no longer need them. */
export function releaseIntermediates(r: FrameRecord): void {
  if (r.image) r.image = { ...r.image, sam2Input: EMPTY, clipFrame: EMPTY_PLANES, clipInput: EMPTY };
}

const EMPTY: Chw = { data: new Float32Array(0), channels: 0, height: 0, width: 0 };
const EMPTY_PLANES: Planes = planesOf(EMPTY);
