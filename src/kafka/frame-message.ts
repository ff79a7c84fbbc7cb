import { HEADERS } from './kafka-message.js';

/** How a frame message is keyed: per stream (one partition, in order) or per frame (spread). */
export type KeyBy = 'stream' | 'frame';

/** One input frame as a Kafka message: raw image bytes, the frame headers, a key. */
export interface FrameMessage {
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Record<string, string>;
}

export interface FrameMessageFields {
  readonly streamId: string;
  readonly frameId: string;
  /** Capture time, epoch ms (the `ogclip-timestamp` header; the record's `timestamp`). */
  readonly capturedAt: number;
  readonly payload: Uint8Array;
  readonly contentType: string;
}

/**
 * One input frame as `ogclip produce` and `ogclip camera` send it: the raw image bytes with the
 * frame headers that kafka-message.ts reads back, keyed `streamId` or `streamId/frameId`.
 */
export function frameMessage(f: FrameMessageFields, keyBy: KeyBy): FrameMessage {
  return {
    key: keyBy === 'frame' ? `${f.streamId}/${f.frameId}` : f.streamId,
    value: Buffer.from(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength),
    headers: {
      [HEADERS.contentType]: f.contentType,
      [HEADERS.frameId]: f.frameId,
      [HEADERS.streamId]: f.streamId,
      [HEADERS.timestamp]: String(f.capturedAt),
    },
  };
}
