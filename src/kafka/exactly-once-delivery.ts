import { CompressionTypes, type Admin, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { kafkaClient } from './kafka-client.js';
import { ConfigError } from '../errors.js';
import type { FrameRecord } from '../record.js';
import type { Topology } from '../topology/topology.js';

/** What a Kafka sink needs in exactly-once mode: somewhere to leave a frame's message until its offset commits. */
export interface OutputTransaction {
  /** Keeps `message` for `topic` in the transaction of the record's input partition (dropped if the record is stale). */
  stage(record: FrameRecord, topic: string, message: Message): void;
}

export interface ExactlyOnceOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly groupId: string;
  readonly topic: string; // the input topic
  readonly admin: () => Promise<Admin>;
  readonly log: (line: string) => void;
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
}

/**
 * Exactly-once delivery from a Kafka source to Kafka sinks: the outputs of a batch of frames and
 * the input offsets after them are committed in one Kafka transaction, so that a read_committed
 * consumer of the outputs sees every frame once whatever crashes, restarts or rebalances.
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

  constructor(o: ExactlyOnceOptions) {
    this.#o = o;
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
    return state !== undefined && this.#incarnationOf.get(record.origin) === state.incarnation;
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
   * One transaction: the staged messages of every frame below `offset` on `partition`, and
   * `offset` as the group's committed offset. Throws after aborting when any step fails; the
   * caller then rewinds the partition (the messages taken here are gone with the abort).
   */
  async commit(partition: number, offset: string): Promise<number> {
    const state = this.#partitions.get(partition);
    if (!state?.producer) throw new Error(`exactly-once: partition ${partition} has no claimed producer`);
    // Taken before the first await, so that a rewind meanwhile cannot add or remove any.
    const upTo = BigInt(offset);
    const mine = state.staged.filter((s) => s.offset < upTo);
    state.staged.splice(0, state.staged.length, ...state.staged.filter((s) => s.offset >= upTo));
    const producer = await state.producer;
    const txn = await producer.transaction();
    try {
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
        topics: [{ topic: this.#o.topic, partitions: [{ partition, offset }] }],
      });
      await txn.commit();
      return mine.length;
    } catch (err) {
      if (txn.isActive()) await txn.abort().catch(() => {}); // a fenced or disconnected producer cannot; its epoch is bumped at the next claim
      throw err;
    }
  }

  async close(): Promise<void> {
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
    const producer = kafkaClient(this.#o.brokers, `${this.#o.clientId}-txn-${partition}`).producer({
      transactionalId: this.transactionalId(partition),
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
