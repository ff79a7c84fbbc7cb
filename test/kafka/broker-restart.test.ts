import test from 'ava';
import { startTopology } from '../../src/topology/start-topology.js';
import { TestBroker } from './broker.js';
import {
  collect,
  testTopics,
  datasetFrames,
  frameIds,
  partitionProgress,
  produce,
  progressLine,
  untilCommittedToEnd,
} from './kafka-helpers.js';
import { kafkaTopology } from './topology.js';

test('broker killed (SIGKILL) mid-stream and restarted on its data: nothing lost, duplicates counted, offsets committed', async (t) => {
  const broker = await TestBroker.start();
  t.teardown(() => broker.stop());
  const brokers = broker.brokers;
  const topics = await testTopics(brokers, 2);
  const { input, detections, deadLetters: dlq, groupId } = topics;
  // 8 stream keys: the default partitioner puts cam-0..cam-3 all on partition 1 of 2.
  const frames = await datasetFrames(80, { prompted: true, streams: 8 });
  await produce(brokers, input, frames);
  const running = await startTopology(kafkaTopology({ brokers, input, groupId, detections, deadLetters: dlq }), { log: (l) => t.log(l) });
  await collect(brokers, detections, (all) => all.length >= 20, 120_000);
  await broker.kill('SIGKILL');
  await broker.restart();
  const want = new Set(frames.map((f) => f.frameId));
  const outs = await collect(brokers, detections, (all) => new Set(frameIds(all)).size >= want.size, 180_000);
  // Commits lost while the broker was down are made good by later ones: the group must still
  // reach the end of every partition, or a restarted consumer would process those frames again.
  await untilCommittedToEnd(brokers, groupId, input, 30_000);
  running.stop();
  await running.done;
  const progress = await partitionProgress(brokers, groupId, input);
  const ids = frameIds(outs);
  const missing = [...want].filter((id) => !ids.includes(id));
  t.deepEqual(missing, [], 'every frame reached the detections topic');
  t.log(`outputs ${ids.length} for ${want.size} frames: ${ids.length - new Set(ids).size} duplicates`);
  t.true(ids.length - new Set(ids).size <= want.size, 'duplicates are bounded');
  t.true(
    progress.every((p) => p.committed === p.end),
    `the group committed every partition to its end (committed/end: ${progressLine(progress)})`,
  );
  t.log(`committed/end: ${progressLine(progress)}`);
});
