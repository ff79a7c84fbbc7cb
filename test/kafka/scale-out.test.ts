import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pRetry from 'p-retry';
import { startTopology } from '../../src/topology/start-topology.js';
import { ROOT, SHAPES_VAL } from '../helpers/paths.js';
import { sharedBrokers } from './broker.js';
import { collect, frameIds, kafka, testTopics, uniqueName, createTopics, warmModelsFor } from './kafka-helpers.js';
import { kafkaTopology } from './topology.js';

const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, [`${ROOT}bin/ogclip.js`, ...args], { cwd: ROOT });
const FRAMES = 24;

async function messagesPerPartition(brokers: string[], topic: string): Promise<number[]> {
  const admin = kafka(brokers).admin();
  await admin.connect();
  try {
    // A just-created topic can still be unknown to the broker's metadata for a moment (a
    // retriable UNKNOWN_TOPIC_OR_PARTITION that the admin client does not retry here).
    const offsets = await pRetry(() => admin.fetchTopicOffsets(topic), { retries: 10, minTimeout: 200, maxTimeout: 1000 });
    return offsets.sort((a, b) => a.partition - b.partition).map((p) => Number(p.high) - Number(p.low));
  } finally {
    await admin.disconnect();
  }
}

test('an archive produced by frame key spreads over the partitions; two pipelines in one group share it and lose nothing', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const { input, detections, deadLetters, groupId } = await testTopics(brokers, 4);
  await cli('produce', SHAPES_VAL, '--topic', input, '--brokers', brokers.join(','), '--limit', String(FRAMES));
  const spread = await messagesPerPartition(brokers, input);
  t.is(
    spread.reduce((a, b) => a + b, 0),
    FRAMES,
  );
  t.true(spread.filter((n) => n > 0).length >= 3, `frames per partition: ${spread.join(', ')}`);

  const done = [0, 0];
  const topology = (i: number) =>
    kafkaTopology({
      brokers,
      input,
      groupId,
      detections,
      deadLetters,
      source: { clientId: `scale-out-${i}` },
      patch: { sam2: { mode: 'automatic', pointsPerSide: 8 }, maxInFlight: 4 },
    });
  // Both model sets ready before either pipeline starts: b's own start-up (every batch size warmed
  // up) could otherwise let a finish the 24 frames alone.
  const models = await Promise.all([warmModelsFor(topology(0)), warmModelsFor(topology(1))]);
  t.teardown(() => Promise.all(models.map((m) => m.dispose())));
  const a = await startTopology(topology(0), { models: models[0]!, log: () => {}, onDone: () => done[0]!++ });
  const b = await startTopology(topology(1), { models: models[1]!, log: () => {}, onDone: () => done[1]!++ });
  const outs = await collect(brokers, detections, (all) => new Set(frameIds(all)).size >= FRAMES, 180_000);
  a.stop();
  b.stop();
  await Promise.all([a.done, b.done]);
  t.deepEqual(
    [...new Set(frameIds(outs))].sort((x, y) => Number(x) - Number(y)),
    Array.from({ length: FRAMES }, (_, i) => String(i)),
    'every frame has its detections',
  );
  t.true(done[0]! > 0 && done[1]! > 0, `both pipelines did work (frames done: ${done.join(' + ')})`);
});

test('produce --key stream keeps a stream on one partition', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const topic = uniqueName('in');
  await createTopics(brokers, [topic], 4);
  await cli(
    'produce',
    SHAPES_VAL,
    '--topic',
    topic,
    '--brokers',
    brokers.join(','),
    '--limit',
    '12',
    '--key',
    'stream',
    '--stream',
    'cam-7',
  );
  const spread = await messagesPerPartition(brokers, topic);
  t.deepEqual(
    spread.filter((n) => n > 0),
    [12],
    `frames per partition: ${spread.join(', ')}`,
  );
});
