import { Field, FixedSizeList, Float32, Float64, Int32, Int64, List, Schema, Struct, Utf8 } from 'apache-arrow';
import { encodeRle } from '../masks/rle.js';
import { embeddingOf, labelsOf, recordKey, type FrameRecord } from '../record.js';
import type { SinkContext } from '../sinks/sink.js';

/**
 * One row of the object index: one object of one frame. The key extends the frame key of the
 * output messages (recordKey: streamId/frameId/modelVersion) with the object's index, so a replay
 * of a frame upserts the same rows. `origin_*` say where the frame's bytes can be read again:
 * a file path, a dataset entry (path + index) or Kafka coordinates (topic/partition/offset).
 */
export interface IndexRow {
  key: string;
  frame_key: string;
  stream_id: string;
  frame_id: string;
  timestamp: bigint; // capture time, ms since epoch (FrameRecord.timestamp)
  object_id: number;
  width: number;
  height: number;
  box: number[]; // [x0, y0, x1, y1] pixels
  mask: { size: number[]; counts: number[] }; // COCO-style RLE, as in the objects message
  score: number; // predicted IoU of the mask
  embedding: number[];
  labels: { label: string; score: number }[]; // best first
  top_label: string | null;
  top_score: number | null;
  model: string; // name@version of the bundle
  origin_kind: 'file' | 'dataset' | 'kafka' | 'memory';
  origin_path: string | null;
  origin_index: number | null;
  origin_topic: string | null;
  origin_partition: number | null;
  origin_offset: string | null;
}

/** The key of one object: `streamId/frameId/modelVersion/objectIndex`. */
export function objectKey(r: Pick<FrameRecord, 'streamId' | 'frameId'>, modelVersion: string, objectIndex: number): string {
  return `${recordKey(r, modelVersion)}/${objectIndex}`;
}

/** What one write puts in the index: the healthy frames it covers, and their objects' rows. */
export interface IndexBatch {
  /** recordKey of every healthy frame, those without objects too: a replay replaces each frame's rows. */
  readonly frameKeys: string[];
  readonly rows: IndexRow[];
}

/**
 * The rows of healthy frames: one per embedded object. Failed frames (dead letters, their own
 * sink) are left out, so a transient failure never removes a frame's earlier rows. A frame without
 * objects has no row but is named in `frameKeys`; an object not yet embedded (a pipeline cut short
 * before the embedder) cannot be searched and is left out.
 */
export function indexBatch(records: readonly FrameRecord[], ctx: SinkContext): IndexBatch {
  const rows: IndexRow[] = [];
  const frameKeys: string[] = [];
  const model = `${ctx.modelName}@${ctx.modelVersion}`;
  for (const r of records) {
    if (r.error) continue;
    frameKeys.push(recordKey(r, ctx.modelVersion));
    const origin = r.origin;
    for (const o of r.objects ?? []) {
      const embedding = embeddingOf(o);
      if (!embedding) continue;
      const labels = (labelsOf(o) ?? []).map((l) => ({ label: l.label, score: l.score }));
      const rle = encodeRle(o.mask);
      rows.push({
        key: objectKey(r, ctx.modelVersion, o.index),
        frame_key: recordKey(r, ctx.modelVersion),
        stream_id: r.streamId,
        frame_id: r.frameId,
        timestamp: BigInt(Math.round(r.timestamp)),
        object_id: o.index,
        width: r.image?.rgb.width ?? o.mask.width,
        height: r.image?.rgb.height ?? o.mask.height,
        box: [...o.box],
        mask: { size: [...rle.size], counts: [...rle.counts] },
        score: o.score,
        embedding: Array.from(embedding),
        labels,
        top_label: labels[0]?.label ?? null,
        top_score: labels[0]?.score ?? null,
        model,
        origin_kind: origin.kind,
        origin_path: origin.kind === 'file' || origin.kind === 'dataset' ? origin.path : null,
        origin_index: origin.kind === 'dataset' ? origin.index : null,
        origin_topic: origin.kind === 'kafka' ? origin.topic : null,
        origin_partition: origin.kind === 'kafka' ? origin.partition : null,
        origin_offset: origin.kind === 'kafka' ? origin.offset : null,
      });
    }
  }
  return { frameKeys, rows };
}

const item = (type: Float32 | Float64 | Int32) => new Field('item', type, true);

/** The Arrow schema of the table (the one statement of its columns), with the index manifest as metadata. */
export function indexSchema(dim: number, metadata: Map<string, string>): Schema {
  const f = (name: string, type: ConstructorParameters<typeof Field>[1], nullable = false) => new Field(name, type, nullable);
  // `key` is the table's (unenforced) primary key: with it LanceDB checks concurrent merge-inserts
  // for keys both inserted and retries the later one, so writers racing on one frame leave one row.
  const key = new Field('key', new Utf8(), false, new Map([['lance-schema:unenforced-primary-key:position', '1']]));
  return new Schema(
    [
      key,
      f('frame_key', new Utf8()),
      f('stream_id', new Utf8()),
      f('frame_id', new Utf8()),
      f('timestamp', new Int64()),
      f('object_id', new Int32()),
      f('width', new Int32()),
      f('height', new Int32()),
      f('box', new FixedSizeList(4, item(new Float64()))),
      f('mask', new Struct([f('size', new FixedSizeList(2, item(new Int32()))), f('counts', new List(item(new Int32())))])),
      f('score', new Float32()),
      f('embedding', new FixedSizeList(dim, item(new Float32()))),
      f('labels', new List(new Field('item', new Struct([f('label', new Utf8()), f('score', new Float32())]), true))),
      f('top_label', new Utf8(), true),
      f('top_score', new Float32(), true),
      f('model', new Utf8()),
      f('origin_kind', new Utf8()),
      f('origin_path', new Utf8(), true),
      f('origin_index', new Int32(), true),
      f('origin_topic', new Utf8(), true),
      f('origin_partition', new Int32(), true),
      f('origin_offset', new Utf8(), true),
    ],
    metadata,
  );
}

/** The vector column's name. */
export const EMBEDDING_COLUMN = 'embedding';
