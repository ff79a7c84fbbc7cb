import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Kafka, logLevel, type Admin, type IHeaders } from 'kafkajs';
import { readDataset } from '../../src/sources/dataset-replay-source.js';
import { ensureTopics } from '../../src/kafka/ensure-topics.js';
import { HEADERS } from '../../src/kafka/kafka-message.js';
import { interiorPoint } from '../../src/masks/interior-point.js';
import type { FrameSource } from '../../src/sources/source.js';
import { readBundle } from '../../src/models/bundle.js';
import { openModelSet, warmUp, type ModelSet } from '../../src/models/model-set.js';
import { sessionOptionsOf, supervisionOf, warmUpLimitsOf, workersOf } from '../../src/topology/start-topology.js';
import type { Topology } from '../../src/topology/topology.js';
import { SHAPES_VAL } from '../helpers/paths.js';

export function kafka(brokers: string[]): Kafka {
  return new Kafka({
    clientId: `test-${randomUUID().slice(0, 8)}`,
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 200 },
  });
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function createTopics(brokers: string[], names: string[], partitions = 1): Promise<void> {
  await ensureTopics(kafka(brokers), names, { partitions, maxMessageBytes: 16 * 2 ** 20, replicationFactor: 1 });
}

export interface TestFrame {
  readonly frameId: string;
  readonly value: Buffer;
  readonly headers: IHeaders;
  readonly key: string;
}

/**
 * The first n frames of the validation split as Kafka messages, tagged with frame ids. With
 * `prompted`, each carries one click per ground-truth object (cheap to run: no point grid).
 */
export async function datasetFrames(n: number, options: { prompted?: boolean; streams?: number } = {}): Promise<TestFrame[]> {
  const entries = (await readDataset(SHAPES_VAL)).slice(0, n);
  return Promise.all(
    entries.map(async (e, i) => {
      const stream = `cam-${i % (options.streams ?? 1)}`;
      const headers: IHeaders = {
        [HEADERS.contentType]: 'image/jpeg',
        [HEADERS.frameId]: `f${e.index}`,
        [HEADERS.streamId]: stream,
      };
      if (options.prompted) {
        const prompts = e.truth.filter((t) => t.mask).map((t) => ({ points: [interiorPoint(t.mask!)!], labels: [1] }));
        headers[HEADERS.prompts] = JSON.stringify(prompts);
      }
      return { frameId: `f${e.index}`, value: await readFile(e.imagePath), headers, key: stream };
    }),
  );
}

export async function produce(
  brokers: string[],
  topic: string,
  frames: readonly { value: Buffer | string | null; headers?: IHeaders; key?: string }[],
): Promise<void> {
  const producer = kafka(brokers).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < frames.length; i += 50) {
      await producer.send({
        topic,
        acks: -1,
        messages: frames.slice(i, i + 50).map((f) => ({ value: f.value, headers: f.headers ?? {}, ...(f.key ? { key: f.key } : {}) })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface Collected {
  value: Buffer;
  headers: Record<string, string>;
  key: string;
}

/**
 * Reads a topic from the beginning until `until` says enough, or the deadline passes (bounded:
 * the test then fails on its own assertions with what arrived).
 */
export async function collect(
  brokers: string[],
  topic: string,
  until: (all: Collected[]) => boolean,
  timeoutMs: number,
): Promise<Collected[]> {
  const consumer = kafka(brokers).consumer({ groupId: uniqueName('collect') });
  const all: Collected[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachMessage: async ({ message }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(Array.isArray(v) ? v[0] : v);
          all.push({ value: message.value ?? Buffer.alloc(0), headers, key: message.key?.toString() ?? '' });
          if (until(all)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return all;
}

/** Frame ids in objects/detections messages (JSON values). */
export function frameIds(messages: readonly Collected[]): string[] {
  return messages.map((m) => (JSON.parse(m.value.toString()) as { frame_id: string }).frame_id);
}

/** Committed offsets of a group summed over partitions, and the topic's end offsets. */
export async function groupProgress(brokers: string[], groupId: string, topic: string): Promise<{ committed: number; end: number }> {
  const admin = kafka(brokers).admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    return {
      committed: (offsets?.partitions ?? []).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0),
      end: ends.reduce((s, p) => s + Number(p.high), 0),
    };
  } finally {
    await admin.disconnect();
  }
}

export interface PartitionProgress {
  readonly partition: number;
  readonly committed: number; // the group's next offset to read; 0 when it never committed
  readonly end: number; // high watermark
}

/** Per partition, the group's committed offset and the topic's end offset. */
export async function partitionProgress(brokers: string[], groupId: string, topic: string): Promise<PartitionProgress[]> {
  const admin = kafka(brokers).admin();
  await admin.connect();
  try {
    return await readProgress(admin, groupId, topic);
  } finally {
    await admin.disconnect();
  }
}

async function readProgress(admin: Admin, groupId: string, topic: string): Promise<PartitionProgress[]> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const committed = new Map((offsets?.partitions ?? []).map((p) => [p.partition, Math.max(0, Number(p.offset))]));
  const ends = await admin.fetchTopicOffsets(topic);
  return ends
    .map((p) => ({ partition: p.partition, committed: committed.get(p.partition) ?? 0, end: Number(p.high) }))
    .sort((a, b) => a.partition - b.partition);
}

/**
 * Waits (bounded) until the group's commits reach the end of every partition, and returns the
 * last reading either way: the test asserts on it. Commits are another client's, visible only
 * by asking the broker, hence polling rather than a latch. Waiting before consumers leave keeps
 * a rebalance from failing the last commits.
 */
export async function untilCommittedToEnd(
  brokers: string[],
  groupId: string,
  topic: string,
  timeoutMs: number,
): Promise<PartitionProgress[]> {
  const admin = kafka(brokers).admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const progress = await readProgress(admin, groupId, topic);
      if (progress.every((p) => p.committed >= p.end) || Date.now() > deadline) return progress;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await admin.disconnect();
  }
}

/** One line per partition, `p<n> <committed>/<end>`, for assertion messages and logs. */
export function progressLine(progress: readonly PartitionProgress[]): string {
  return progress.map((p) => `p${p.partition} ${p.committed}/${p.end}`).join(', ');
}

/**
 * Wraps a source to measure what is inside the pipeline independently of its in-flight gate:
 * each time a frame enters, it records how many frames entered and are not done yet (call
 * `done()` from the pipeline's onDone). The gate's own counter cannot exceed its capacity even
 * when frames get past it; this count can.
 */
export function inFlightProbe(source: FrameSource): { source: FrameSource; done(): void; peak(): number } {
  let entered = 0;
  let finished = 0;
  let peak = 0;
  return {
    source: {
      name: source.name,
      async *frames() {
        for await (const r of source.frames()) {
          entered++;
          peak = Math.max(peak, entered - finished);
          yield r;
        }
      },
      ack: (r) => source.ack(r),
      stop: () => source.stop(),
      close: () => source.close(),
    },
    done: () => void finished++,
    peak: () => peak,
  };
}

/** Fresh input, detections and dead-letter topics (and a consumer group id) for one test. */
export async function testTopics(
  brokers: string[],
  partitions = 1,
): Promise<{ input: string; detections: string; deadLetters: string; groupId: string }> {
  const names = { input: uniqueName('in'), detections: uniqueName('det'), deadLetters: uniqueName('dlq'), groupId: uniqueName('g') };
  await createTopics(brokers, [names.input, names.detections, names.deadLetters], partitions);
  return names;
}

/** The frame id of an objects/detections message (JSON value) or of a dead letter (its header). */
export function frameIdOf(m: Collected): string {
  const id = m.headers['ogclip-frame-id'];
  if (m.headers['ogclip-error-code'] !== undefined && id !== undefined) return id;
  return (JSON.parse(m.value.toString()) as { frame_id: string }).frame_id;
}

const END_MARK = 'ogclip-test-end';

/**
 * Everything a read_committed consumer gets from `topics`, to their end: an end mark is produced
 * to every partition first (outside any transaction), and the read stops when each mark arrived.
 * A read_committed consumer cannot pass an open transaction, so everything committed before the
 * marks is read; messages of aborted transactions never are. Bounded by `timeoutMs` (the test
 * then fails on what it got).
 */
export async function collectToEnd(brokers: string[], topics: readonly string[], timeoutMs: number): Promise<Map<string, Collected[]>> {
  const k = kafka(brokers);
  const admin = k.admin();
  await admin.connect();
  const marks = new Map<string, number>();
  const producer = k.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (const topic of topics) {
      const partitions = await admin.fetchTopicOffsets(topic);
      marks.set(topic, partitions.length);
      await producer.send({
        topic,
        acks: -1,
        messages: partitions.map((p) => ({ partition: p.partition, value: END_MARK, headers: { [END_MARK]: '1' } })),
      });
    }
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
  const consumer = k.consumer({ groupId: uniqueName('collect-end'), readUncommitted: false });
  const out = new Map<string, Collected[]>(topics.map((t) => [t, []]));
  await consumer.connect();
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachMessage: async ({ topic, message }) => {
          const headers: Record<string, string> = {};
          for (const [key, v] of Object.entries(message.headers ?? {})) headers[key] = String(Array.isArray(v) ? v[0] : v);
          if (headers[END_MARK] !== undefined) {
            marks.set(topic, marks.get(topic)! - 1);
            if ([...marks.values()].every((n) => n <= 0)) {
              clearTimeout(timer);
              resolve();
            }
            return;
          }
          out.get(topic)!.push({ value: message.value ?? Buffer.alloc(0), headers, key: message.key?.toString() ?? '' });
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Ids seen more than once, and wanted ids never seen. */
export function onceEach(ids: readonly string[], want: ReadonlySet<string>): { duplicates: string[]; missing: string[]; extra: string[] } {
  const seen = new Map<string, number>();
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  return {
    duplicates: [...seen].filter(([, n]) => n > 1).map(([id]) => id),
    missing: [...want].filter((id) => !seen.has(id)),
    extra: [...seen.keys()].filter((id) => !want.has(id)),
  };
}

/**
 * A topology's model set, opened and warmed up as `startTopology` would (pass it as `models`;
 * the caller disposes it): a member started with it joins its group at once, where its own
 * start-up could let the members already running finish the topic first.
 */
export async function warmModelsFor(topology: Topology): Promise<ModelSet> {
  const models = await openModelSet(
    await readBundle(topology.bundle),
    sessionOptionsOf(topology),
    supervisionOf(topology),
    workersOf(topology),
  );
  await warmUp(models, warmUpLimitsOf(topology));
  return models;
}
