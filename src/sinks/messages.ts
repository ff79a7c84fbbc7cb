import { encodeRle } from '../masks/rle.js';
import { embeddingOf, labelsOf, recordKey, type FrameRecord } from '../record.js';
import type { DeadLetterMessage } from '../schema/types/dead-letter.js';
import type { DetectionsMessage } from '../schema/types/detections.js';
import type { ObjectsMessage } from '../schema/types/objects.js';
import type { SinkContext } from './sink.js';

// The message types are generated from schemas/ (src/schema/types/), the one statement of their fields.
export type { DeadLetterMessage, DetectionsMessage, ObjectsMessage };

export function float32Base64(v: Float32Array): string {
  const buf = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i]!, i * 4);
  return buf.toString('base64');
}

export function base64Float32(s: string): Float32Array {
  const buf = Buffer.from(s, 'base64');
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

const round = (x: number, digits = 5) => Number(x.toFixed(digits));

/** Fields every per-frame output message starts with. */
type FrameHeader = Omit<ObjectsMessage, 'objects'>;

function frameHeader(r: FrameRecord, ctx: SinkContext): FrameHeader {
  return {
    key: recordKey(r, ctx.modelVersion),
    stream_id: r.streamId,
    frame_id: r.frameId,
    timestamp: r.timestamp,
    model: { name: ctx.modelName, version: ctx.modelVersion },
    width: r.image?.rgb.width ?? 0,
    height: r.image?.rgb.height ?? 0,
    ...(r.traceparent ? { traceparent: r.traceparent } : {}),
  };
}

export function objectsMessage(r: FrameRecord, ctx: SinkContext): ObjectsMessage {
  return {
    ...frameHeader(r, ctx),
    objects: (r.objects ?? []).map((o) => {
      const embedding = embeddingOf(o); // objects not yet embedded or labelled (a pipeline cut short) have none
      return {
        id: o.index,
        box: [...o.box] as [number, number, number, number],
        mask: encodeRle(o.mask),
        score: round(o.score),
        embedding: embedding ? float32Base64(embedding) : '',
        labels: (labelsOf(o) ?? []).map((l) => ({ label: l.label, score: round(l.score) })),
      };
    }),
  };
}

export function detectionsMessage(r: FrameRecord, ctx: SinkContext): DetectionsMessage {
  return {
    ...frameHeader(r, ctx),
    detections: (r.detections ?? []).map((d) => ({
      object_id: d.objectIndex,
      label: d.label,
      score: round(d.score),
      box: [...d.box] as [number, number, number, number],
      mask: encodeRle(d.mask),
    })),
  };
}

export function deadLetterMessage(r: FrameRecord, ctx: SinkContext): DeadLetterMessage {
  const error = r.error;
  if (!error) throw new Error(`deadLetterMessage: frame ${r.streamId}/${r.frameId} has no error (only failed records are dead letters)`);
  return {
    key: recordKey(r, ctx.modelVersion),
    stream_id: r.streamId,
    frame_id: r.frameId,
    error,
    origin: r.origin,
    ...(r.contentType ? { content_type: r.contentType } : {}),
    payload_base64: Buffer.from(r.original ?? r.payload).toString('base64'),
    ...(r.headers ? { headers: { ...r.headers } } : {}),
    failed_at: new Date().toISOString(),
  };
}
