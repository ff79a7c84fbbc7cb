import { type Consumer, type EachBatchPayload, type KafkaMessage } from 'kafkajs';
import { kafkaClient } from './kafka-client.js';
import { ExactlyOnceDelivery, isFencedError } from './exactly-once-delivery.js';
import { LazyAdmin } from './lazy-admin.js';
import { ConfigError } from '../errors.js';
import { LatestFrameBuffer, type DropReason } from '../operators/latest-frame-buffer.js';
import type { FrameRecord } from '../record.js';
import { headerMap, recordFromKafka, type ReferencePolicy } from './kafka-message.js';
import { OffsetTracker } from './offset-tracker.js';
import type { FrameSource } from '../sources/source.js';
import type { SourceComponent } from '../topology/component.js';

export interface KafkaSourceOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly groupId: string;
  readonly clientId: string;
  readonly fromBeginning: boolean;
  readonly maxBytesPerPartition: number; // must exceed the largest message or a partition stalls
  readonly sessionTimeoutMs: number;
  readonly shutdownDeadlineMs: number;
  readonly references: ReferencePolicy;
  /** Frames read from Kafka but not yet taken by the pipeline; fetching waits beyond this. */
  readonly maxQueued: number;
  readonly mode: 'lossless' | 'live';
  readonly stalenessMs: number; // live mode only
  readonly onDrop?: (record: FrameRecord, reason: DropReason) => void;
  readonly log?: (line: string) => void;
  /** exactly-once: offsets are not committed here but in the outputs' transaction (see `transactions`). */
  readonly delivery?: 'at-least-once' | 'exactly-once';
  /** How often the lag gauge asks the broker for the partitions' ends (it also moves at every fetched batch). */
  readonly lagRefreshMs?: number;
  /** Image references (file://, http://) of one fetched batch loaded at once. */
  readonly referenceConcurrency?: number;
  /** exactly-once: most bytes of output messages in one transaction (ExactlyOnceOptions.maxTransactionBytes). */
  readonly maxTransactionBytes?: number;
}

export interface KafkaSourceStats {
  received: number;
  committed: number; // partition offsets moved by commits
  commitCalls: number; // commit requests sent (coalesced: far fewer than acks under load)
  dropped: number; // live mode
  rebalances: number;
  crashes: number;
  assigned: number[]; // partitions of the input topic this member owns now
  lag: Record<string, number>; // per partition this member owns: high watermark - next offset to read
  transactions: number; // exactly-once: transactions committed
  aborted: number; // exactly-once: transactions that failed (their partitions were rewound)
  fenced: number; // exactly-once: transactions refused because another member claimed the partition
  open: number; // exactly-once: transactions in flight now
}

type Offsets = { topic: string; partition: number; offset: string };

/** Consecutive failed transactions of one partition (each followed by a rewind) before the run stops. */
const MAX_TRANSACTION_FAILURES = 10;

/**
 * A kafkajs consumer-group source. At-least-once (the default): a message's offset is committed
 * only after the pipeline acknowledged it and everything before it on its partition. Exactly-once:
 * the same offsets go into the transaction that carries the Kafka sinks' outputs of those frames
 * (exactly-once-delivery.ts); a failed transaction is aborted and its partition rewound to the
 * committed offset, so the frames are read and processed again. Fetching waits (heartbeating)
 * while the pipeline is full. On rebalance, queued frames of revoked partitions are abandoned
 * uncommitted (their new owner reads them again).
 */
export function kafkaSource(o: KafkaSourceOptions): FrameSource & {
  readonly stats: KafkaSourceStats;
  readonly started: Promise<void>;
  /** exactly-once only: where the Kafka sinks leave their messages. */
  readonly transactions?: ExactlyOnceDelivery;
} {
  if (o.brokers.length === 0) throw new ConfigError('kafka source: brokers must list at least one host:port');
  if (!(o.maxQueued >= 1)) throw new ConfigError('kafka source: maxQueued must be >= 1');
  const referenceConcurrency = o.referenceConcurrency ?? 8;
  if (!(referenceConcurrency >= 1)) throw new ConfigError('kafka source: referenceConcurrency must be >= 1');
  const log = o.log ?? (() => {});
  const stats: KafkaSourceStats = {
    received: 0,
    committed: 0,
    commitCalls: 0,
    dropped: 0,
    rebalances: 0,
    crashes: 0,
    assigned: [],
    lag: {},
    transactions: 0,
    aborted: 0,
    fenced: 0,
    open: 0,
  };
  const trackers = new Map<number, OffsetTracker>();
  const fifo: FrameRecord[] = [];
  let assigned = new Set<number>();
  // Per partition: the next offset this member will take (lag), and the first it took since the
  // partition was assigned (where a rewind goes when nothing was committed yet).
  const positions = new Map<number, bigint>();
  const highWatermarks = new Map<number, bigint>();
  const firstTaken = new Map<number, bigint>();
  const committedAt = new Map<number, bigint>(); // exactly-once: the offset this member's last transaction committed
  const failures = new Map<number, number>();
  // exactly-once: partitions whose producer another member fenced; not claimed again before the
  // group's next assignment says they are still this member's.
  const fenced = new Set<number>();
  let wakeReader: (() => void) | undefined;
  let wakeWriter: (() => void) | undefined;
  let stopped = false;
  let fatal: Error | undefined;
  const client = kafkaClient(o.brokers, o.clientId);
  const admin = new LazyAdmin(() => client.admin());
  const adminOf = () => (stopped ? Promise.reject(new Error('kafka source: stopping')) : admin.get());

  const eos =
    o.delivery === 'exactly-once'
      ? new ExactlyOnceDelivery({
          brokers: o.brokers,
          clientId: o.clientId,
          groupId: o.groupId,
          topic: o.topic,
          admin: adminOf,
          log,
          ...(o.maxTransactionBytes === undefined ? {} : { maxTransactionBytes: o.maxTransactionBytes }),
        })
      : undefined;

  const trackerOf = (p: number) => {
    let t = trackers.get(p);
    if (!t) trackers.set(p, (t = new OffsetTracker()));
    return t;
  };
  const partitionOf = (r: FrameRecord) => (r.origin.kind === 'kafka' ? r.origin : undefined);
  const fail = (err: Error) => {
    if (fatal || stopped) return;
    fatal = err;
    live?.end(); // live mode reads the buffer, not the fifo: ending it lets frames() throw
    wakeReader?.();
  };

  /**
   * Exactly-once: the partition's transaction failed (aborted), so what this member read of it
   * since the last commit is void. New incarnation (frames still inside the pipeline are stale:
   * their outputs and acks are ignored), queue emptied, and the consumer sent back to the last
   * offset this member committed; the next batch claims the partition again and skips whatever
   * the broker says was committed after all (a commit whose answer was lost).
   */
  const rewind = (partition: number) => {
    const back = committedAt.get(partition) ?? firstTaken.get(partition);
    eos!.begin(partition);
    trackers.delete(partition);
    for (let i = fifo.length - 1; i >= 0; i--) if (partitionOf(fifo[i]!)?.partition === partition) fifo.splice(i, 1);
    if (back !== undefined) {
      try {
        consumer.seek({ topic: o.topic, partition, offset: back.toString() });
        positions.set(partition, back);
      } catch (err) {
        // Not running (restarting after a crash): it will fetch from the committed offset anyway.
        log(`kafka: exactly-once: seek of partition ${partition} failed (${(err as Error).message})`);
      }
    }
    wakeWriter?.();
    log(`kafka: exactly-once: partition ${partition} rewound to ${back ?? 'its start'}; its frames since will be read again`);
  };

  /**
   * Exactly-once: another member initialised the partition's transactional id, so it claimed the
   * partition (this member is a zombie of an older assignment, or its transaction timed out).
   * Claiming it back would fence the rightful owner in turn: the partition is dropped (its frames
   * inside the pipeline become stale) and not read until the group's next assignment, which the
   * next batch of it asks for (eachBatch). If the group still gives it to this member, it is
   * claimed again then.
   */
  const fence = (partition: number, err: Error) => {
    fenced.add(partition);
    // Back to the last commit (kafkajs has moved past the frames read since): the batch that comes
    // then is what asks for the rejoin; after it, the partition is read from its committed offset.
    const back = committedAt.get(partition) ?? firstTaken.get(partition);
    if (back !== undefined) {
      try {
        consumer.seek({ topic: o.topic, partition, offset: back.toString() });
      } catch (e) {
        log(`kafka: exactly-once: seek of partition ${partition} failed (${(e as Error).message})`);
      }
    }
    eos!.release(partition);
    trackers.delete(partition);
    positions.delete(partition);
    firstTaken.delete(partition);
    committedAt.delete(partition);
    failures.delete(partition);
    for (let i = fifo.length - 1; i >= 0; i--) if (partitionOf(fifo[i]!)?.partition === partition) fifo.splice(i, 1);
    wakeWriter?.();
    log(
      `kafka: exactly-once: partition ${partition} was claimed by another member (${err.message}); dropped until the group's next assignment`,
    );
  };

  const transact = async (c: Offsets) => {
    const incarnation = eos!.incarnation(c.partition);
    stats.open++;
    try {
      const done = await eos!.commit(c.partition, c.offset);
      stats.transactions++;
      failures.delete(c.partition);
      trackers.get(c.partition)?.committed(done.offset);
      committedAt.set(c.partition, BigInt(done.offset));
      stats.committed++;
      if (done.offset !== c.offset) commitWanted = true; // capped at maxTransactionBytes: the rest goes in the next round
    } catch (err) {
      stats.aborted++;
      // Revoked or already rewound meanwhile: nothing of that incarnation is ours to redo. When
      // stopping, or after too many failures, it is not rewound either; the incarnation stays void
      // (commit() refuses it), so no later transaction commits past the aborted messages.
      if (stopped || !assigned.has(c.partition) || eos!.incarnation(c.partition) !== incarnation) return;
      if (isFencedError(err)) {
        stats.fenced++;
        fence(c.partition, err as Error);
        return;
      }
      const n = (failures.get(c.partition) ?? 0) + 1;
      failures.set(c.partition, n);
      log(`kafka: exactly-once: transaction of partition ${c.partition} failed (${(err as Error).message}); aborted (${n} in a row)`);
      if (n >= MAX_TRANSACTION_FAILURES) {
        fail(
          new Error(`kafka exactly-once: ${n} transactions of partition ${c.partition} failed in a row; last: ${(err as Error).message}`),
        );
        return;
      }
      rewind(c.partition);
    } finally {
      stats.open--;
    }
  };

  // Commits are coalesced: at most one in flight and one wanted after it, whatever the rate of
  // acks (one commit per ack grew a chain without bound when frames came faster than a round trip).
  let committing: Promise<void> | undefined;
  let commitWanted = false;
  const commitOnce = async () => {
    // Exactly-once: the acks of a sink batch come one by one in the same turn of the event loop;
    // starting after them makes one transaction per batch (and partition), not one for its first frame.
    if (eos) await new Promise((resolve) => setImmediate(resolve));
    const offsets: Offsets[] = [];
    for (const [partition, t] of trackers) {
      if (eos && !eos.canCommit(partition)) continue; // a failed transaction's incarnation: see transact
      const offset = t.committable();
      if (offset !== undefined) offsets.push({ topic: o.topic, partition, offset });
    }
    if (offsets.length === 0) return;
    stats.commitCalls++;
    if (eos) {
      await Promise.all(offsets.map(transact)); // one producer per partition: they run side by side
      return;
    }
    try {
      await consumer.commitOffsets(offsets);
      for (const c of offsets) trackers.get(c.partition)?.committed(c.offset);
      stats.committed += offsets.length;
    } catch (err) {
      // A commit lost to a rebalance only means those frames are read again: at-least-once.
      log(`kafka: commit failed (${(err as Error).message}); the frames will be redelivered`);
    }
  };
  const scheduleCommit = (): Promise<void> => {
    commitWanted = true;
    committing ??= (async () => {
      while (commitWanted) {
        commitWanted = false;
        await commitOnce();
      }
      // In the same step as the last check: an ack after it starts a new round.
      committing = undefined;
    })();
    return committing;
  };

  const markDone = (r: FrameRecord) => {
    const k = partitionOf(r);
    if (!k) return;
    if (eos && !eos.isCurrent(r)) return; // read before a rewind or revocation: its offset is not ours to commit
    trackers.get(k.partition)?.done(k.offset);
    scheduleCommit();
  };

  const live =
    o.mode === 'live'
      ? new LatestFrameBuffer<FrameRecord>({
          stalenessMs: o.stalenessMs,
          streamOf: (r) => r.streamId,
          receivedAt: (r) => r.receivedAt,
          onDrop: (r, why) => {
            stats.dropped++;
            o.onDrop?.(r, why);
            markDone(r); // dropped live frames are still committed
          },
        })
      : undefined;

  const heartbeatMs = Math.max(1000, Math.floor(o.sessionTimeoutMs / 10));
  const consumer: Consumer = client.consumer({
    groupId: o.groupId,
    sessionTimeout: o.sessionTimeoutMs,
    heartbeatInterval: heartbeatMs,
    maxBytesPerPartition: o.maxBytesPerPartition,
    // Exactly-once needs it (an aborted transaction's messages must stay invisible); it is also
    // kafkajs's default, stated here because the guarantee depends on it.
    readUncommitted: false,
    retry: { initialRetryTime: 300, retries: 10, restartOnFailure: async () => !stopped },
  });

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    stats.rebalances++;
    const now = new Set<number>(e.payload.memberAssignment[o.topic] ?? []);
    for (const p of assigned) {
      if (now.has(p)) continue;
      trackers.delete(p);
      positions.delete(p);
      highWatermarks.delete(p);
      startOffsets.delete(p);
      firstTaken.delete(p);
      committedAt.delete(p);
      failures.delete(p);
      delete stats.lag[String(p)]; // the gauge shows the partitions this member owns, not the ones it lost
      eos?.release(p);
    }
    for (const p of [...trackers.keys()]) if (!now.has(p)) trackers.delete(p);
    // The assignment is the group's word on what this member owns: fenced partitions given back are claimed again.
    fenced.clear();
    for (const p of now) {
      if (!eos) continue;
      if (!eos.has(p)) eos.begin(p);
      else {
        // Kept across the rebalance: kafkajs would fetch it again from the committed offset, and
        // the frames after it that are inside the pipeline would be read twice; go on after them.
        const next = positions.get(p);
        if (next !== undefined && trackers.has(p)) consumer.seek({ topic: o.topic, partition: p, offset: next.toString() });
      }
    }
    assigned = now;
    stats.assigned = [...now].sort((a, b) => a - b);
    // Frames of revoked partitions that the pipeline has not taken yet are abandoned.
    for (let i = fifo.length - 1; i >= 0; i--) {
      const k = partitionOf(fifo[i]!);
      if (k && !now.has(k.partition)) fifo.splice(i, 1);
    }
    log(`kafka: joined group ${o.groupId}, partitions [${[...now].join(', ')}]`);
  });
  consumer.on(consumer.events.CRASH, (e) => {
    stats.crashes++;
    log(`kafka: consumer crashed (${e.payload.error.message}); restart: ${e.payload.restart}`);
    if (!e.payload.restart && !stopped) fail(new Error(`kafka consumer stopped after a non-retriable error: ${e.payload.error.message}`));
  });

  // The lag gauge: high watermark minus the next offset this member will take, for the partitions
  // it owns. The ends come with every fetched batch and, on a timer, from the broker: while the
  // pipeline is full no batch is fetched, and the lag must still grow with the input.
  const updateLag = (committed?: Map<number, bigint>) => {
    for (const p of assigned) {
      const high = highWatermarks.get(p);
      const next = positions.get(p) ?? committed?.get(p) ?? startOffsets.get(p);
      if (high !== undefined && next !== undefined) stats.lag[String(p)] = Number(high > next ? high - next : 0n);
    }
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    if (!assigned.has(e.payload.partition)) return;
    highWatermarks.set(e.payload.partition, BigInt(e.payload.highWatermark));
    updateLag();
  });
  // Where a partition without a committed offset is read from (fromBeginning: its start, else its end).
  const startOffsets = new Map<number, bigint>();
  let refreshing = false;
  const refreshLag = async () => {
    if (refreshing || stopped || assigned.size === 0) return;
    refreshing = true;
    try {
      const a = await adminOf();
      for (const end of await a.fetchTopicOffsets(o.topic)) {
        if (!assigned.has(end.partition)) continue;
        highWatermarks.set(end.partition, BigInt(end.high));
        // Once per assignment: with fromBeginning false, a partition never read nor committed starts
        // at its end as it was then, not as it is at every refresh (its lag would read 0 for ever).
        if (!startOffsets.has(end.partition)) startOffsets.set(end.partition, BigInt(o.fromBeginning ? end.low : end.high));
      }
      let committed: Map<number, bigint> | undefined;
      if ([...assigned].some((p) => !positions.has(p))) {
        const [offsets] = await a.fetchOffsets({ groupId: o.groupId, topics: [o.topic] });
        committed = new Map((offsets?.partitions ?? []).filter((p) => Number(p.offset) >= 0).map((p) => [p.partition, BigInt(p.offset)]));
      }
      updateLag(committed);
    } catch (err) {
      log(`kafka: lag refresh failed (${(err as Error).message}); tried again in ${o.lagRefreshMs ?? 5000} ms`);
    } finally {
      refreshing = false;
    }
  };
  const lagTimer = setInterval(() => void refreshLag(), o.lagRefreshMs ?? 5000);
  lagTimer.unref();

  const enqueue = (r: FrameRecord) => {
    if (live) live.offer(r);
    else fifo.push(r);
    wakeReader?.();
  };

  const eachBatch = async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) => {
    const partition = batch.partition;
    const going = () => isRunning() && !isStale() && !stopped && assigned.has(partition);
    if (!going()) return; // before the claim: a stopping source connects no producer
    if (fenced.has(partition)) {
      // kafkajs rejoins the group on an error of this type (there is no call for it): the
      // assignment that comes back says whether the partition is still this member's.
      throw Object.assign(new Error(`partition ${partition} was claimed by another member: rejoining the group`), {
        type: 'REBALANCE_IN_PROGRESS',
      });
    }
    // Exactly-once: before the first frame of an incarnation, fence the partition's previous
    // owner and learn what it committed; messages below that are done already.
    const floor = eos ? await eos.claim(partition) : undefined;
    const incarnation = eos?.incarnation(partition);
    // A slow load (a large file, a slow server) must not get this member dropped from the group:
    // heartbeats go on while it runs. Heartbeat errors (a rebalance) surface at the loop's own.
    const whileHeartbeating = async <T>(work: Promise<T>): Promise<T> => {
      const timer = setInterval(() => void heartbeat().catch(() => {}), heartbeatMs);
      try {
        return await work;
      } finally {
        clearInterval(timer);
      }
    };
    const load = (m: KafkaMessage) =>
      recordFromKafka(
        {
          topic: batch.topic,
          partition,
          offset: m.offset,
          key: m.key,
          value: m.value,
          timestamp: m.timestamp,
          headers: headerMap(m.headers as Record<string, unknown>),
        },
        o.references,
      );
    // References are loaded up to `referenceConcurrency` messages ahead, and taken in order.
    const loading: Promise<FrameRecord>[] = [];
    let ahead = 0;
    const messages = batch.messages;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      if (!going()) break;
      if (floor !== undefined && BigInt(m.offset) < floor) {
        resolveOffset(m.offset); // committed by this partition's previous owner (or by a commit whose answer was lost)
        positions.set(partition, BigInt(m.offset) + 1n);
        continue;
      }
      // Backpressure: while the pipeline is full, wait here (heartbeating) instead of fetching.
      while (!live && fifo.length >= o.maxQueued && going()) {
        await new Promise<void>((resolve) => {
          wakeWriter = resolve;
          setTimeout(resolve, 1000).unref();
        });
        await heartbeat();
      }
      if (!going() || (eos && eos.incarnation(partition) !== incarnation)) break;
      for (ahead = Math.max(ahead, i); ahead < messages.length && ahead < i + referenceConcurrency; ahead++) {
        const next = load(messages[ahead]!);
        next.catch(() => {}); // awaited in order below; a batch left early must not leave a rejection unhandled
        loading[ahead] = next;
      }
      const r = await whileHeartbeating(loading[i]!);
      if (!going() || (eos && eos.incarnation(partition) !== incarnation)) break;
      trackerOf(partition).track(m.offset);
      if (!firstTaken.has(partition)) firstTaken.set(partition, BigInt(m.offset));
      positions.set(partition, BigInt(m.offset) + 1n);
      eos?.admit(r);
      stats.received++;
      enqueue(r);
      resolveOffset(m.offset);
      await heartbeat();
    }
  };

  const started = (async () => {
    await consumer.connect();
    await consumer.subscribe({ topic: o.topic, fromBeginning: o.fromBeginning });
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch });
  })();

  return {
    name: `kafka:${o.topic}`,
    stats,
    started,
    ...(eos ? { transactions: eos } : {}),
    async *frames() {
      await started;
      if (live) {
        const it = live[Symbol.asyncIterator]();
        for (;;) {
          const step = await it.next();
          if (step.done) {
            if (fatal) throw fatal;
            return;
          }
          yield step.value;
        }
      }
      for (;;) {
        if (fatal) throw fatal;
        const r = fifo.shift();
        if (r) {
          wakeWriter?.();
          yield r;
          continue;
        }
        if (stopped) return;
        await new Promise<void>((resolve) => (wakeReader = resolve));
        wakeReader = undefined;
      }
    },
    ack: async (r) => markDone(r),
    stop: () => {
      stopped = true;
      live?.end();
      wakeReader?.();
      wakeWriter?.();
    },
    close: async () => {
      stopped = true;
      live?.end();
      clearInterval(lagTimer);
      // Each step gets the deadline, and the disconnect is always asked for: a final commit that
      // hangs on a lost broker must not leave the consumer connected (and the process alive).
      const within = async (work: Promise<void>, what: string) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), o.shutdownDeadlineMs)));
        const outcome = await Promise.race([work.then(() => 'done' as const), late]);
        clearTimeout(timer);
        if (outcome === 'late') log(`kafka: ${what} did not finish within shutdownDeadlineMs (${o.shutdownDeadlineMs} ms)`);
      };
      await within(scheduleCommit(), 'the final commit (its frames will be redelivered)');
      // The admin goes after the consumer: a batch still running (a claim) may be using it; one
      // asked for after `stopped` is refused, one being connected is disconnected once it is.
      await within(
        Promise.allSettled([
          consumer.disconnect().catch((err: unknown) => log(`kafka: disconnect failed (${(err as Error).message})`)),
          eos?.close(),
        ]).then(() => {}),
        'the disconnect',
      );
      await within(admin.close(), 'the admin client disconnect');
    },
  };
}

/** `kind: kafka` in a topology's source: a consumer group member; live mode is done in its fetch loop. */
export const kafkaSourceComponent: SourceComponent<'kafka'> = {
  kind: 'kafka',
  handlesLiveMode: true,
  resolvePaths: (o, abs) => (o.referenceRoots = o.referenceRoots.map(abs)),
  create: (o, { topology: t, log, metrics }) =>
    kafkaSource({
      ...o,
      references: {
        referenceRoots: o.referenceRoots,
        allowHttp: o.allowHttpReferences,
        maxBytes: t.decode.maxBytes,
        httpTimeoutMs: 10_000,
      },
      maxQueued: t.maxInFlight,
      mode: t.mode,
      stalenessMs: t.live.stalenessMs,
      delivery: t.delivery,
      onDrop: (_r, why) => metrics.dropped(why),
      log,
    }),
};
