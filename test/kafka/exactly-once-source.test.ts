import test from 'ava';
import pRetry from 'p-retry';
import { kafkaSource, type KafkaSourceOptions } from '../../src/kafka/kafka-source.js';
import type { FrameRecord } from '../../src/record.js';
import { sharedBrokers } from './broker.js';
import { createTopics, kafka, uniqueName } from './kafka-helpers.js';

// The Kafka source in exactly-once mode against a real broker, without models: the test stands
// in for the pipeline (takes frames, stages an output message for each, acknowledges them).

const base = (brokers: string[], topic: string, groupId: string, log: string[]): KafkaSourceOptions => ({
  brokers,
  topic,
  groupId,
  clientId: 'eos-source-test',
  fromBeginning: true,
  maxBytesPerPartition: 1024 * 1024,
  sessionTimeoutMs: 10_000,
  shutdownDeadlineMs: 5_000,
  references: { referenceRoots: [], allowHttp: false, maxBytes: 1024 * 1024, httpTimeoutMs: 1000 },
  maxQueued: 4,
  mode: 'lossless',
  stalenessMs: 1000,
  delivery: 'exactly-once',
  log: (line) => void log.push(line),
});

async function produceTo(brokers: string[], topic: string, n: number, partition = 0): Promise<void> {
  const producer = kafka(brokers).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: Array.from({ length: n }, (_, i) => ({ partition, value: `m${i}` })) });
  await producer.disconnect();
}

async function committedOffset(brokers: string[], groupId: string, topic: string, partition = 0): Promise<number> {
  const admin = kafka(brokers).admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return Number(offsets?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
  } finally {
    await admin.disconnect();
  }
}

/** An output topic that refuses every message larger than 100 bytes: each transaction sending to it fails. */
async function tooSmallTopic(brokers: string[]): Promise<string> {
  const topic = uniqueName('small');
  await pRetry(async () => {
    const admin = kafka(brokers).admin();
    await admin.connect();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '100' }] }],
      });
    } finally {
      await admin.disconnect();
    }
  }, RETRY_CREATE);
  return topic;
}

// A just-created topic can be missing from the broker's metadata for a moment while the admin
// client waits for its leaders (a retriable UNKNOWN_TOPIC_OR_PARTITION): creating again is harmless.
const RETRY_CREATE = { retries: 5, minTimeout: 200, maxTimeout: 1000 };
const createTopicsRetried = (brokers: string[], names: string[], partitions: number) =>
  pRetry(() => createTopics(brokers, names, partitions), RETRY_CREATE);

const big = { key: null, value: Buffer.alloc(2000, 7) };

test('exactly-once: a transaction failing while the source drains (SIGTERM) leaves the input uncommitted: close() commits nothing past it', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const input = uniqueName('in');
  const groupId = uniqueName('g');
  await createTopicsRetried(brokers, [input], 1);
  const out = await tooSmallTopic(brokers);
  await produceTo(brokers, input, 3);
  const log: string[] = [];
  const source = kafkaSource(base(brokers, input, groupId, log));
  let taken = 0;
  for await (const r of source.frames()) {
    if (taken++ === 0) source.stop(); // the drain: frames already read still go through and are acknowledged
    source.transactions!.stage(r, out, big);
    await source.ack(r);
  }
  // Let the transaction of those acks run and fail before the close's own commit round.
  const deadline = Date.now() + 30_000;
  while (source.stats.aborted === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  await source.close();
  t.log(log.filter((l) => l.includes('exactly-once')).join('\n'));
  t.true(source.stats.aborted >= 1, `the transaction failed (aborted ${source.stats.aborted})`);
  t.is(source.stats.transactions, 0, 'no transaction committed');
  t.is(await committedOffset(brokers, groupId, input), -1, 'no offset committed: the frames are read again at the next start');
});

test('exactly-once: after 10 failed transactions the run fails, and closing it commits nothing past them', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const input = uniqueName('in');
  const groupId = uniqueName('g');
  await createTopicsRetried(brokers, [input], 1);
  const out = await tooSmallTopic(brokers);
  await produceTo(brokers, input, 3);
  const log: string[] = [];
  const source = kafkaSource(base(brokers, input, groupId, log));
  const err = await t.throwsAsync(
    (async () => {
      for await (const r of source.frames()) {
        source.transactions!.stage(r, out, big);
        await source.ack(r);
      }
    })(),
  );
  t.regex(err.message, /10 transactions of partition 0 failed in a row/);
  await source.close();
  t.is(source.stats.transactions, 0, 'no transaction committed');
  t.is(await committedOffset(brokers, groupId, input), -1, 'no offset committed by the close after the failures');
});

test('exactly-once: a member whose producer another one fenced does not claim the partition back before the group assigns it again', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const input = uniqueName('in');
  const out = uniqueName('out');
  const groupId = uniqueName('g');
  await createTopicsRetried(brokers, [input, out], 1);
  await produceTo(brokers, input, 2);
  const log: string[] = [];
  const source = kafkaSource(base(brokers, input, groupId, log));
  t.teardown(async () => {
    source.stop();
    await source.close();
  });
  const frames = source.frames()[Symbol.asyncIterator]();
  const take = async () => {
    const r = (await frames.next()).value as FrameRecord;
    source.transactions!.stage(r, out, { key: null, value: `out-${r.origin.kind === 'kafka' ? r.origin.offset : ''}` });
    await source.ack(r);
  };
  await take();
  await take();
  const until = async (check: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    return check();
  };
  t.true(await until(() => source.stats.transactions >= 1 && source.stats.open === 0, 30_000), 'the first frames committed');
  // Another owner claims the partition: it initialises the partition's transactional id.
  const other = kafka(brokers).producer({ transactionalId: `ogclip:${groupId}:${input}:0`, idempotent: true, maxInFlightRequests: 1 });
  await other.connect();
  await (await other.transaction()).abort();
  await other.disconnect();
  const fencedAt = log.length;
  await produceTo(brokers, input, 1);
  await take(); // its transaction is refused as fenced
  t.true(await until(() => source.stats.aborted === 1, 30_000), 'the transaction after the fencing failed');
  const after = () => log.slice(fencedAt);
  // The partition is read again only after a group join: claimed then, and the frame redone.
  const claimedAgain = () => after().findIndex((l) => l.includes('initialised'));
  t.true(await until(() => claimedAgain() >= 0, 60_000), 'claimed again after the rejoin');
  t.log(after().join('\n'));
  const joined = after().findIndex((l) => l.includes('joined group'));
  t.true(joined >= 0 && joined < claimedAgain(), 'the claim came after a group join, not straight after the fencing');
  t.is(source.stats.fenced, 1, 'the failure was taken for fencing');
  await take();
  t.true(await until(() => source.stats.open === 0 && source.stats.transactions >= 2, 30_000), 'the frame committed once claimed again');
  t.true(await until(() => source.stats.open === 0, 30_000));
  t.is(await committedOffset(brokers, groupId, input), 3);
});

test('lag gauge, fromBeginning false: a partition never read nor committed counts from where its reading starts, not from its end at each refresh', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const input = uniqueName('in');
  await createTopicsRetried(brokers, [input], 2);
  const log: string[] = [];
  const source = kafkaSource({
    ...base(brokers, input, uniqueName('g'), log),
    delivery: 'at-least-once',
    fromBeginning: false,
    maxQueued: 1, // nobody takes frames: the one fetch worker waits on partition 0, partition 1 is never read
    lagRefreshMs: 200,
  });
  t.teardown(async () => {
    source.stop();
    await source.close();
  });
  const until = async (check: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    return check();
  };
  t.true(await until(() => source.stats.lag['0'] === 0 && source.stats.lag['1'] === 0, 30_000), `lag ${JSON.stringify(source.stats.lag)}`);
  await produceTo(brokers, input, 3, 0);
  t.true(await until(() => source.stats.received === 1, 30_000), 'partition 0 read up to the full queue');
  await produceTo(brokers, input, 5, 1);
  t.true(
    await until(() => source.stats.lag['1'] === 5, 15_000),
    `lag after 5 messages on partition 1: ${JSON.stringify(source.stats.lag)}`,
  );
  t.is(source.stats.received, 1);
});
