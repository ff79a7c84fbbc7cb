import { readFile, realpath, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { sep } from 'node:path';
import type { Sam2Prompt } from '../models/sam2.js';
import { fail, type FrameRecord } from '../record.js';
import type { FrameEnvelope } from '../schema/types/frame-envelope.js';
import type { PromptsMessage } from '../schema/types/prompts.js';
import { validate } from '../schema/validator.js';

/** Header names of input frames (all optional but content-type for raw image bytes). */
export const HEADERS = {
  contentType: 'content-type',
  frameId: 'ogclip-frame-id',
  streamId: 'ogclip-stream-id',
  timestamp: 'ogclip-timestamp',
  prompts: 'ogclip-prompts',
  traceparent: 'traceparent',
} as const;

export interface KafkaInput {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: string;
  readonly headers: Record<string, string>;
}

export interface ReferencePolicy {
  readonly referenceRoots: readonly string[]; // file:// references must resolve inside one of these
  readonly allowHttp: boolean;
  readonly maxBytes: number;
  readonly httpTimeoutMs: number;
}

/**
 * Wire prompts (already validated against schemas/prompts.schema.json: points are pairs, a box
 * has four numbers) as the sam2 stage takes them.
 */
function sam2Prompts(wire: PromptsMessage): Sam2Prompt[] {
  return wire.map((q) => {
    const prompt: { points?: [number, number][]; labels?: (0 | 1)[]; box?: [number, number, number, number] } = {};
    if (q.points) prompt.points = q.points.map(([x = 0, y = 0]) => [x, y]);
    if (q.labels) prompt.labels = q.labels;
    if (q.box) {
      const [x1 = 0, y1 = 0, x2 = 0, y2 = 0] = q.box;
      prompt.box = [x1, y1, x2, y2];
    }
    return prompt;
  });
}

/** Kafka header values arrive as Buffers (or arrays of them); keep the last one as text. */
export function headerMap(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined && last !== null) out[k.toLowerCase()] = Buffer.isBuffer(last) ? last.toString('utf8') : String(last);
  }
  return out;
}

async function readReference(ref: string, policy: ReferencePolicy): Promise<Uint8Array> {
  if (ref.startsWith('file://')) {
    const path = await realpath(fileURLToPath(ref));
    const roots = await Promise.all(policy.referenceRoots.map((r) => realpath(r).catch(() => r)));
    if (!roots.some((r) => path === r || path.startsWith(r.endsWith(sep) ? r : r + sep))) {
      throw new Error(`${ref} is outside the allowed reference folders (source.referenceRoots)`);
    }
    const info = await stat(path);
    if (info.size > policy.maxBytes) throw new Error(`${ref} is ${info.size} bytes, over the ${policy.maxBytes}-byte limit`);
    return new Uint8Array(await readFile(path));
  }
  if (/^https?:\/\//.test(ref)) {
    if (!policy.allowHttp) throw new Error(`http(s) references are disabled (source.allowHttpReferences)`);
    const res = await fetch(ref, { signal: AbortSignal.timeout(policy.httpTimeoutMs) });
    if (!res.ok) throw new Error(`GET ${ref} answered ${res.status}`);
    const len = Number(res.headers.get('content-length') ?? 0);
    if (len > policy.maxBytes) throw new Error(`${ref} is ${len} bytes, over the ${policy.maxBytes}-byte limit`);
    const body = new Uint8Array(await res.arrayBuffer());
    if (body.length > policy.maxBytes) throw new Error(`${ref} is over the ${policy.maxBytes}-byte limit`);
    return body;
  }
  throw new Error(`unsupported reference ${ref} (use file:// or http(s)://)`);
}

/**
 * A Kafka message -> a frame record. Raw image bytes with headers, or a JSON envelope with
 * base64 bytes or a reference. A message that cannot become a frame still becomes a record,
 * failed at the source stage with the reason, so it reaches the dead-letter topic.
 */
export async function recordFromKafka(
  m: KafkaInput,
  policy: ReferencePolicy,
  now: () => number = () => performance.now(),
): Promise<FrameRecord> {
  const h = m.headers;
  const payload = m.value ? new Uint8Array(m.value.buffer, m.value.byteOffset, m.value.byteLength) : new Uint8Array(0);
  const base: FrameRecord = {
    streamId: h[HEADERS.streamId] ?? m.key?.toString('utf8') ?? m.topic,
    frameId: h[HEADERS.frameId] ?? `${m.topic}-${m.partition}-${m.offset}`,
    timestamp: Number(h[HEADERS.timestamp] ?? m.timestamp) || Date.now(),
    receivedAt: now(),
    origin: { kind: 'kafka', topic: m.topic, partition: m.partition, offset: m.offset },
    payload,
    headers: h,
    ...(h[HEADERS.contentType] ? { contentType: h[HEADERS.contentType] } : {}),
    ...(h[HEADERS.traceparent] ? { traceparent: h[HEADERS.traceparent] } : {}),
    timings: {},
  };
  const ct = (h[HEADERS.contentType] ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct === 'application/json') return fromEnvelope(base, policy);
  if (!ct)
    return fail(
      base,
      'source',
      'bad-message',
      `missing ${HEADERS.contentType} header (image/jpeg, image/png, image/webp or application/json)`,
    );
  if (h[HEADERS.prompts] !== undefined) {
    let prompts: unknown;
    try {
      prompts = JSON.parse(h[HEADERS.prompts]!);
    } catch {
      return fail(base, 'source', 'bad-message', `${HEADERS.prompts} header is not valid JSON`);
    }
    const problems = validate('prompts', prompts);
    if (problems.length) return fail(base, 'source', 'bad-message', `${HEADERS.prompts} header: ${problems.join('; ')}`);
    return { ...base, prompts: sam2Prompts(prompts as PromptsMessage) };
  }
  return base;
}

async function fromEnvelope(base: FrameRecord, policy: ReferencePolicy): Promise<FrameRecord> {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(base.payload).toString('utf8'));
  } catch (err) {
    return fail(base, 'source', 'bad-message', `JSON envelope does not parse: ${(err as Error).message}`);
  }
  const problems = validate('frame-envelope', doc);
  if (problems.length) return fail(base, 'source', 'bad-message', `JSON envelope: ${problems.join('; ')}`);
  const e = doc as FrameEnvelope;
  const rec: FrameRecord = {
    ...base,
    streamId: e.stream_id ?? base.streamId,
    frameId: e.frame_id,
    timestamp: e.timestamp ?? base.timestamp,
    ...(e.prompts ? { prompts: sam2Prompts(e.prompts) } : {}),
  };
  const withType = (bytes: Uint8Array): FrameRecord => {
    const { contentType: _drop, ...rest } = { ...rec, payload: bytes, original: rec.payload };
    return e.content_type ? { ...rest, contentType: e.content_type } : rest;
  };
  if (e.image_base64 !== undefined) return withType(new Uint8Array(Buffer.from(e.image_base64, 'base64')));
  try {
    return withType(await readReference(e.image_ref!, policy));
  } catch (err) {
    return fail(rec, 'source', 'unreadable-reference', (err as Error).message);
  }
}
