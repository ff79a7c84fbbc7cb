import test from 'ava';
import { kafkaSource, type KafkaSourceOptions } from '../../src/kafka/kafka-source.js';
import { sharedBrokers } from './broker.js';
import { createTopics, kafka, uniqueName } from './kafka-helpers.js';

const base = (brokers: string[], topic: string, groupId: string): KafkaSourceOptions => ({
  brokers,
  topic,
  groupId,
  clientId: 'lag-test',
  fromBeginning: true,
  maxBytesPerPartition: 1024 * 1024,
  sessionTimeoutMs: 10_000,
  shutdownDeadlineMs: 5_000,
  references: { referenceRoots: [], allowHttp: false, maxBytes: 1024 * 1024, httpTimeoutMs: 1000 },
  maxQueued: 2, // nobody takes frames in these tests: fetching is held back after two
  mode: 'lossless',
  stalenessMs: 1000,
  lagRefreshMs: 200,
});

async function produceTo(brokers: string[], topic: string, partition: number, n: number): Promise<void> {
  const producer = kafka(brokers).producer();
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: Array.from({ length: n }, (_, i) => ({ partition, value: `m${i}` })) });
  await producer.disconnect();
}

/** Polls `check` (another client's state, only visible by asking) until true or `ms` pass. */
async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return check();
}

test('the lag gauge keeps growing while fetching is held back by a full pipeline', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const topic = uniqueName('lag');
  await createTopics(brokers, [topic], 1);
  await produceTo(brokers, topic, 0, 10);
  const source = kafkaSource(base(brokers, topic, uniqueName('g')));
  t.teardown(async () => {
    source.stop();
    await source.close();
  });
  t.true(await until(() => source.stats.received === 2 && source.stats.lag['0'] === 8, 30_000), `lag ${JSON.stringify(source.stats.lag)}`);
  await produceTo(brokers, topic, 0, 30);
  // No batch is fetched while two frames wait untaken; the lag must follow the input anyway.
  t.true(await until(() => source.stats.lag['0'] === 38, 15_000), `lag after 30 more messages: ${JSON.stringify(source.stats.lag)}`);
  t.is(source.stats.received, 2, 'fetching stayed held back');
});

test('the lag gauge drops the partitions a rebalance took away', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const topic = uniqueName('lag');
  const groupId = uniqueName('g');
  await createTopics(brokers, [topic], 2);
  await produceTo(brokers, topic, 0, 10);
  await produceTo(brokers, topic, 1, 10);
  const a = kafkaSource({ ...base(brokers, topic, groupId), clientId: 'lag-a' });
  t.teardown(async () => {
    a.stop();
    await a.close();
  });
  t.true(await until(() => Object.keys(a.stats.lag).length === 2, 30_000), `a's lag ${JSON.stringify(a.stats.lag)}`);
  const b = kafkaSource({ ...base(brokers, topic, groupId), clientId: 'lag-b' });
  t.teardown(async () => {
    b.stop();
    await b.close();
  });
  t.true(await until(() => a.stats.assigned.length === 1 && b.stats.assigned.length === 1, 60_000), 'the partitions were shared');
  // Refreshes and fetched batches after the rebalance must not bring the lost partition back.
  t.true(await until(() => b.stats.lag[String(b.stats.assigned[0])] !== undefined, 30_000), `b's lag ${JSON.stringify(b.stats.lag)}`);
  await new Promise((resolve) => setTimeout(resolve, 1000)); // several of a's lag refreshes (every 200 ms)
  t.deepEqual(
    Object.keys(a.stats.lag),
    a.stats.assigned.map(String),
    `a owns ${a.stats.assigned}, its lag gauge ${JSON.stringify(a.stats.lag)}`,
  );
});
