import { CompressionTypes, type Admin, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { kafkaClient } from './kafka-client.js';
import { ConfigError } from '../errors.js';
import type { FrameRecord } from '../record.js';
import type { Topology } from '../topology/topology.js';

/** What a Kafka sink needs in exactly-once mode: somewhere to leave a frame's message until its offset commits. */
export interface OutputTransaction {
  /** Keeps `message` for `topic` in the transaction of the record's input partition (dropped if the record is stale). */
  stage(record: FrameRecord, topic: string, message: Message): void;
  /** Refuses (ConfigError) an output topic that does not exist: checked at start, since nothing is sent before the first transaction. */
  requireTopic(topic: string): Promise<void>;
}

export interface ExactlyOnceOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly groupId: string;
  readonly topic: string; // the input topic
  readonly admin: () => Promise<Admin>;
  readonly log: (line: string) => void;
  /**
   * Most bytes (keys, values and headers) of output messages in one transaction; a frame whose
   * messages alone are larger still goes, alone. Everything acknowledged while a transaction is
   * in flight waits for the next one, so without a cap one sendBatch could exceed what the broker
   * takes in a request or a record batch (message.max.bytes, 1 MiB by default).
   */
  readonly maxTransactionBytes?: number;
  /** Makes a partition's transactional producer (tests give a fake); by default a kafkajs producer on `brokers`. */
  readonly producer?: (transactionalId: string, partition: number) => Producer;
}

/** What one commit() did: the offset it committed (at most the one asked for) and the messages it sent. */
export interface Committed {
  readonly offset: string;
  readonly messages: number;
}

/** Default of ExactlyOnceOptions.maxTransactionBytes: below the broker's default message.max.bytes. */
export const MAX_TRANSACTION_BYTES = 900 * 1024;

/**
 * The broker's verdict that another producer initialised this transactional id since (a newer
 * epoch): another member claimed the partition. kafkajs 2.2 knows code 47 (INVALID_PRODUCER_EPOCH,
 * what brokers answer its request versions); 90 (PRODUCER_FENCED) is what newer versions get.
 * kafkajs wraps errors (retries exhausted, non-retriable): the causes are searched too.
 */
export function isFencedError(err: unknown): boolean {
  const seen = new Set<unknown>();
  const walk = (e: unknown): boolean => {
    if (!e || typeof e !== 'object' || seen.has(e)) return false;
    seen.add(e);
    const x = e as { type?: unknown; code?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
    if (x.type === 'INVALID_PRODUCER_EPOCH' || x.type === 'PRODUCER_FENCED' || x.code === 47 || x.code === 90) return true;
    return walk(x.cause) || walk(x.originalError) || (Array.isArray(x.errors) && x.errors.some(walk));
  };
  return walk(err);
}

interface Staged {
  readonly offset: bigint;
  readonly topic: string;
  readonly message: Message;
}

interface PartitionState {
  /** Frames read in another incarnation (before a rewind or a revocation) are stale: never committed. */
  readonly incarnation: number;
  readonly staged: Staged[];
  producer?: Promise<Producer>;
  /** The partition's committed offset as read after this member's producer fenced the previous owner. */
  claim?: Promise<bigint | undefined>;
  /**
   * A transaction of this incarnation failed and was aborted: its messages are gone, so no later
   * transaction of the incarnation may commit an offset past them (they would be skipped for
   * good). Only a new incarnation (a rewind, a new assignment) commits again.
   */
  void?: Error;
}

/** Sink kinds that may stay in an exactly-once topology without joining its transaction: they have no downstream readers. */
const OUTSIDE_THE_TRANSACTION = new Set(['console', 'summary']);

/** Refuses an exactly-once topology whose source or sinks cannot take part in a Kafka transaction. */
export function checkExactlyOnce(t: Topology): void {
  if (t.delivery !== 'exactly-once') return;
  if (t.source.kind !== 'kafka') {
    throw new ConfigError(
      `delivery: exactly-once needs a kafka source (the input offsets commit in the outputs' transaction); ` +
        `source.kind is "${t.source.kind}": use a kafka source or delivery: at-least-once`,
    );
  }
  const outside = t.sinks.filter((s) => s.kind !== 'kafka' && !OUTSIDE_THE_TRANSACTION.has(s.kind)).map((s) => s.kind);
  if (outside.length > 0) {
    throw new ConfigError(
      `delivery: exactly-once writes only Kafka sinks in its transaction; sinks of kind ${[...new Set(outside)].join(', ')} ` +
        `would write replayed frames twice: remove them (console and summary may stay), send those outputs to a Kafka topic, ` +
        `or use delivery: at-least-once`,
    );
  }
  if (!t.sinks.some((s) => s.kind === 'kafka')) {
    throw new ConfigError('delivery: exactly-once needs at least one kafka sink (its outputs are what the transaction commits)');
  }
  // The outputs are sent by the source's transactional producers, on the source's cluster: a sink
  // naming other brokers would have its own setting silently ignored.
  const same = (a: readonly string[]) => [...new Set(a)].sort().join(',');
  const want = same(t.source.brokers);
  for (const s of t.sinks) {
    if (s.kind === 'kafka' && same(s.brokers) !== want) {
      throw new ConfigError(
        `delivery: exactly-once sends every Kafka output in the source's transaction, on the source's brokers ` +
          `(${want}); kafka sink "${s.topic}" names ${same(s.brokers)}: give it the source's brokers ` +
          `(one transaction cannot span two clusters), or use delivery: at-least-once`,
      );
    }
  }
}

/**
 * Exactly-once delivery from a Kafka source to Kafka sinks: the outputs of a batch of frames and
 * the input offsets after them are committed in one Kafka transaction, so that a read_committed
 * consumer of the outputs sees every frame once through crashes, restarts and rebalances (but
 * see the require_stable caveat in docs/operations.md: kafkajs cannot ask for it).
 *
 * Fencing. kafkajs sends transactional offsets without the consumer group's generation (no
 * KIP-447: TxnOffsetCommit carries no member id or generation, and kafkajs has no
 * groupMetadata()), so the broker cannot tell a zombie (a member that lost a partition in a
 * rebalance but does not know it yet) from the owner. The classic pattern applies: one
 * transactional id per input partition, `ogclip:<groupId>:<topic>:<partition>`. Whoever owns a
 * partition initialises that id before reading it (InitProducerId bumps the producer epoch: the
 * previous owner's open transaction is aborted, or completed if it was already committing, and
 * every later request of its producer is refused as fenced), then reads the partition's
 * committed offset, which now includes everything the previous owner committed, and skips what
 * lies below it. One id per assignment (the member's whole partition set) would not do: after a
 * rebalance the new owner of a partition would use another id and fence nobody.
 * The cost is one producer (one set of connections) per partition a member owns.
 *
 * Transactions are per input partition (each partition's producer commits its own offsets), so
 * an acknowledged batch spanning three partitions is three transactions; within one, every
 * Kafka sink's messages (objects, detections, dead letters) of those frames go together.
 */
export class ExactlyOnceDelivery implements OutputTransaction {
  readonly #o: ExactlyOnceOptions;
  readonly #partitions = new Map<number, PartitionState>();
  // Stages copy records shallowly ({ ...r }), so a record's origin object travels unchanged from
  // the source to the sinks and the ack: it identifies the read, where (partition, offset) does
  // not once a partition was rewound and the same offsets are read again.
  readonly #incarnationOf = new WeakMap<object, number>();
  #incarnations = 0;
  #closed = false;
  readonly #maxBytes: number;

  constructor(o: ExactlyOnceOptions) {
    this.#o = o;
    this.#maxBytes = o.maxTransactionBytes ?? MAX_TRANSACTION_BYTES;
    if (!(this.#maxBytes >= 1)) throw new ConfigError('exactly-once: maxTransactionBytes must be >= 1');
  }

  transactionalId(partition: number): string {
    return `ogclip:${this.#o.groupId}:${this.#o.topic}:${partition}`;
  }

  /** A new incarnation of `partition` (assigned, or rewound after a failed transaction): what was read before is stale. */
  begin(partition: number): void {
    this.#drop(partition);
    this.#partitions.set(partition, { incarnation: ++this.#incarnations, staged: [] });
  }

  /** The partition is no longer this member's: its producer goes, its staged messages with it. */
  release(partition: number): void {
    this.#drop(partition);
    this.#partitions.delete(partition);
  }

  has(partition: number): boolean {
    return this.#partitions.has(partition);
  }

  /** Tags a record just read with its partition's current incarnation. */
  admit(record: FrameRecord): void {
    const state = record.origin.kind === 'kafka' ? this.#partitions.get(record.origin.partition) : undefined;
    if (state) this.#incarnationOf.set(record.origin, state.incarnation);
  }

  isCurrent(record: FrameRecord): boolean {
    if (record.origin.kind !== 'kafka') return false;
    const state = this.#partitions.get(record.origin.partition);
    return state !== undefined && state.void === undefined && this.#incarnationOf.get(record.origin) === state.incarnation;
  }

  /** Whether a transaction of `partition` may commit now (assigned, and no failed transaction in its incarnation). */
  canCommit(partition: number): boolean {
    const state = this.#partitions.get(partition);
    return state?.producer !== undefined && state.void === undefined;
  }

  async requireTopic(topic: string): Promise<void> {
    const topics = await (await this.#o.admin()).listTopics();
    if (!topics.includes(topic)) {
      throw new ConfigError(
        `kafka sink: output topic "${topic}" does not exist on ${this.#o.brokers.join(',')}; with delivery: exactly-once ` +
          `its messages are sent only inside transactions, each of which would fail: create the topic first`,
      );
    }
  }

  stage(record: FrameRecord, topic: string, message: Message): void {
    if (record.origin.kind !== 'kafka' || !this.isCurrent(record)) return;
    this.#partitions.get(record.origin.partition)!.staged.push({ offset: BigInt(record.origin.offset), topic, message });
  }

  /**
   * Fences the partition's previous owner and returns its committed offset (undefined: none yet).
   * Called before the first frame of an incarnation is taken; once per incarnation.
   */
  claim(partition: number): Promise<bigint | undefined> {
    const state = this.#partitions.get(partition);
    if (this.#closed) return Promise.reject(new Error('exactly-once: closed (the source is shutting down)'));
    if (!state) return Promise.reject(new Error(`exactly-once: partition ${partition} is not assigned to this member`));
    state.claim ??= (async () => {
      state.producer ??= this.#connect(partition);
      await state.producer;
      const admin = await this.#o.admin();
      const [offsets] = await admin.fetchOffsets({ groupId: this.#o.groupId, topics: [this.#o.topic] });
      const committed = offsets?.partitions.find((p) => p.partition === partition)?.offset;
      return committed === undefined || Number(committed) < 0 ? undefined : BigInt(committed);
    })().catch((err: unknown) => {
      // A claim that failed (broker away) is tried again by the next batch; its producer is redone.
      if (this.#partitions.get(partition) === state) {
        state.claim = undefined;
        const producer = state.producer;
        state.producer = undefined;
        void producer?.then((p) => p.disconnect()).catch(() => {});
      }
      throw err;
    });
    return state.claim;
  }

  /** The incarnation number of a partition now (a commit compares it before and after). */
  incarnation(partition: number): number | undefined {
    return this.#partitions.get(partition)?.incarnation;
  }

  /**
   * One transaction: the staged messages of every frame below `offset` on `partition` (or of as
   * many frames from the lowest as fit in maxTransactionBytes), and the offset after them as the
   * group's committed offset, which is returned. Throws after aborting when any step fails; the
   * incarnation is then void (nothing more of it commits) and the caller rewinds the partition
   * (the messages taken here are gone with the abort).
   */
  async commit(partition: number, offset: string): Promise<Committed> {
    const state = this.#partitions.get(partition);
    if (!state?.producer) throw new Error(`exactly-once: partition ${partition} has no claimed producer`);
    if (state.void) {
      throw new Error(
        `exactly-once: a transaction of partition ${partition} failed (${state.void.message}); ` +
          `nothing read since its last commit commits before the partition is read again`,
      );
    }
    // Taken before the first await, so that a rewind meanwhile cannot add or remove any.
    const upTo = this.#cut(state.staged, BigInt(offset));
    const mine = state.staged.filter((s) => s.offset < upTo);
    state.staged.splice(0, state.staged.length, ...state.staged.filter((s) => s.offset >= upTo));
    const committed = upTo.toString();
    let txn: Awaited<ReturnType<Producer['transaction']>> | undefined;
    try {
      const producer = await state.producer;
      txn = await producer.transaction();
      const byTopic = new Map<string, Message[]>();
      for (const s of mine) {
        let list = byTopic.get(s.topic);
        if (!list) byTopic.set(s.topic, (list = []));
        list.push(s.message);
      }
      const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
      if (topicMessages.length > 0) await txn.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.None });
      await txn.sendOffsets({
        consumerGroupId: this.#o.groupId,
        topics: [{ topic: this.#o.topic, partitions: [{ partition, offset: committed }] }],
      });
      await txn.commit();
      return { offset: committed, messages: mine.length };
    } catch (err) {
      state.void = err instanceof Error ? err : new Error(String(err));
      if (txn?.isActive()) await txn.abort().catch(() => {}); // a fenced or disconnected producer cannot; its epoch is bumped at the next claim
      throw err;
    }
  }

  /**
   * Where a transaction asked to commit up to `upTo` stops: before the first frame (offset) whose
   * messages would take it past maxTransactionBytes, but never before the lowest frame's.
   */
  #cut(staged: readonly Staged[], upTo: bigint): bigint {
    const bytes = new Map<bigint, number>();
    for (const s of staged) if (s.offset < upTo) bytes.set(s.offset, (bytes.get(s.offset) ?? 0) + sizeOf(s.message));
    let total = 0;
    for (const [offset, n] of [...bytes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (total > 0 && total + n > this.#maxBytes) return offset;
      total += n;
    }
    return upTo;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const producers = [...this.#partitions.values()].map((s) => s.producer).filter((p) => p !== undefined);
    this.#partitions.clear();
    await Promise.allSettled(producers.map(async (p) => (await p).disconnect()));
  }

  #drop(partition: number): void {
    const state = this.#partitions.get(partition);
    const producer = state?.producer;
    if (state) {
      state.producer = undefined;
      state.claim = undefined;
    }
    // A transaction of this producer still running either commits before the next owner's claim
    // (which then reads its offsets) or is aborted by it: both leave the outputs and offsets agreeing.
    void producer?.then((p) => p.disconnect()).catch(() => {});
  }

  async #connect(partition: number): Promise<Producer> {
    const transactionalId = this.transactionalId(partition);
    const producer = this.#o.producer
      ? this.#o.producer(transactionalId, partition)
      : kafkaClient(this.#o.brokers, `${this.#o.clientId}-txn-${partition}`).producer({
          transactionalId,
          idempotent: true,
          maxInFlightRequests: 1,
          allowAutoTopicCreation: false,
        });
    await producer.connect();
    // kafkajs initialises the transactional id (InitProducerId: the fencing step) at the first
    // transaction; an empty one does it now, before any offset of the partition is read.
    const txn = await producer.transaction();
    await txn.abort();
    this.#o.log(`kafka: exactly-once: ${this.transactionalId(partition)} initialised (the partition's previous owner is fenced)`);
    return producer;
  }
}

const lengthOf = (v: unknown): number =>
  typeof v === 'string'
    ? Buffer.byteLength(v)
    : v instanceof Uint8Array
      ? v.byteLength
      : Array.isArray(v)
        ? v.reduce((n, x) => n + lengthOf(x), 0)
        : 0;

/** A message's bytes as sent, near enough for a cap: key, value, header names and values. */
function sizeOf(m: Message): number {
  let n = lengthOf(m.key) + lengthOf(m.value);
  for (const [k, v] of Object.entries(m.headers ?? {})) n += Buffer.byteLength(k) + lengthOf(v);
  return n;
}
