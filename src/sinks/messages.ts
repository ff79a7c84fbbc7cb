import { encodeRle, type Rle } from '../masks/rle.js';
import { embeddingOf, labelsOf, recordKey, type FrameError, type FrameOrigin, type FrameRecord } from '../record.js';
import type { SinkContext } from './sink.js';

/** Fields every per-frame output message starts with. */
interface FrameHeader {
  key: string;
  stream_id: string;
  frame_id: string;
  timestamp: number;
  model: { name: string; version: string };
  width: number;
  height: number;
  traceparent?: string;
}

/** schemas/objects.schema.json */
export interface ObjectsMessage extends FrameHeader {
  objects: {
    id: number;
    box: [number, number, number, number];
    mask: Rle;
    score: number;
    embedding: string; // base64 of little-endian float32
    labels: { label: string; score: number }[];
  }[];
}

/** schemas/detections.schema.json */
export interface DetectionsMessage extends FrameHeader {
  detections: { object_id: number; label: string; score: number; box: [number, number, number, number]; mask: Rle }[];
}

/** schemas/dead-letter.schema.json (JSONL form; Kafka puts the error in headers instead). */
export interface DeadLetterMessage {
  key: string;
  stream_id: string;
  frame_id: string;
  error: FrameError;
  origin: FrameOrigin;
  content_type?: string;
  payload_base64: string;
  headers?: Record<string, string>;
  failed_at: string;
}

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
