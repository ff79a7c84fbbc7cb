import { type Consumer, type EachBatchPayload } from 'kafkajs';
import { kafkaClient } from './kafka-client.js';
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
}

export interface KafkaSourceStats {
  received: number;
  committed: number; // partition offsets moved by commits
  commitCalls: number; // commit requests sent (coalesced: far fewer than acks under load)
  dropped: number; // live mode
  rebalances: number;
  crashes: number;
  lag: Record<string, number>; // per partition: high watermark - next offset to read
}

type Offsets = { topic: string; partition: number; offset: string };

/**
 * A kafkajs consumer-group source with at-least-once delivery: a message's offset is committed
 * only after the pipeline acknowledged it and everything before it on its partition. Fetching
 * waits (heartbeating) while the pipeline is full. On rebalance, queued frames of revoked
 * partitions are abandoned uncommitted (their new owner reads them again).
 */
export function kafkaSource(o: KafkaSourceOptions): FrameSource & { readonly stats: KafkaSourceStats; readonly started: Promise<void> } {
  if (o.brokers.length === 0) throw new ConfigError('kafka source: brokers must list at least one host:port');
  if (!(o.maxQueued >= 1)) throw new ConfigError('kafka source: maxQueued must be >= 1');
  const log = o.log ?? (() => {});
  const stats: KafkaSourceStats = { received: 0, committed: 0, commitCalls: 0, dropped: 0, rebalances: 0, crashes: 0, lag: {} };
  const trackers = new Map<number, OffsetTracker>();
  const fifo: FrameRecord[] = [];
  let wakeReader: (() => void) | undefined;
  let wakeWriter: (() => void) | undefined;
  let stopped = false;
  let fatal: Error | undefined;

  const trackerOf = (p: number) => {
    let t = trackers.get(p);
    if (!t) trackers.set(p, (t = new OffsetTracker()));
    return t;
  };
  const partitionOf = (r: FrameRecord) => (r.origin.kind === 'kafka' ? r.origin : undefined);

  // Commits are coalesced: at most one in flight and one wanted after it, whatever the rate of
  // acks (one commit per ack grew a chain without bound when frames came faster than a round trip).
  let committing: Promise<void> | undefined;
  let commitWanted = false;
  const commitOnce = async () => {
    const offsets: Offsets[] = [];
    for (const [partition, t] of trackers) {
      const offset = t.committable();
      if (offset !== undefined) offsets.push({ topic: o.topic, partition, offset });
    }
    if (offsets.length === 0) return;
    stats.commitCalls++;
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

  const consumer: Consumer = kafkaClient(o.brokers, o.clientId).consumer({
    groupId: o.groupId,
    sessionTimeout: o.sessionTimeoutMs,
    heartbeatInterval: Math.max(1000, Math.floor(o.sessionTimeoutMs / 10)),
    maxBytesPerPartition: o.maxBytesPerPartition,
    retry: { initialRetryTime: 300, retries: 10, restartOnFailure: async () => !stopped },
  });

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    stats.rebalances++;
    const assigned = new Set<number>(e.payload.memberAssignment[o.topic] ?? []);
    for (const p of [...trackers.keys()]) if (!assigned.has(p)) trackers.delete(p);
    // Frames of revoked partitions that the pipeline has not taken yet are abandoned.
    for (let i = fifo.length - 1; i >= 0; i--) {
      const k = partitionOf(fifo[i]!);
      if (k && !assigned.has(k.partition)) fifo.splice(i, 1);
    }
    log(`kafka: joined group ${o.groupId}, partitions [${[...assigned].join(', ')}]`);
  });
  consumer.on(consumer.events.CRASH, (e) => {
    stats.crashes++;
    log(`kafka: consumer crashed (${e.payload.error.message}); restart: ${e.payload.restart}`);
    if (!e.payload.restart && !stopped) {
      fatal = new Error(`kafka consumer stopped after a non-retriable error: ${e.payload.error.message}`);
      live?.end(); // live mode reads the buffer, not the fifo: ending it lets frames() throw
      wakeReader?.();
    }
  });
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    stats.lag[String(e.payload.partition)] = Number(e.payload.offsetLagLow ?? e.payload.offsetLag ?? 0);
  });

  const enqueue = (r: FrameRecord) => {
    if (live) live.offer(r);
    else fifo.push(r);
    wakeReader?.();
  };

  const eachBatch = async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) => {
    for (const m of batch.messages) {
      if (!isRunning() || isStale() || stopped) break;
      // Backpressure: while the pipeline is full, wait here (heartbeating) instead of fetching.
      while (!live && fifo.length >= o.maxQueued && isRunning() && !isStale() && !stopped) {
        await new Promise<void>((resolve) => {
          wakeWriter = resolve;
          setTimeout(resolve, 1000).unref();
        });
        await heartbeat();
      }
      if (!isRunning() || isStale() || stopped) break;
      const r = await recordFromKafka(
        {
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          key: m.key,
          value: m.value,
          timestamp: m.timestamp,
          headers: headerMap(m.headers as Record<string, unknown>),
        },
        o.references,
      );
      trackerOf(batch.partition).track(m.offset);
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
      await within(
        consumer.disconnect().catch((err: unknown) => log(`kafka: disconnect failed (${(err as Error).message})`)),
        'the disconnect',
      );
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
      onDrop: (_r, why) => metrics.dropped(why),
      log,
    }),
};
