import test from 'ava';
import type { FrameRecord } from '../../src/record.js';
import { startTopology } from '../../src/topology/start-topology.js';
import { sharedBrokers } from './broker.js';
import {
  collect,
  testTopics,
  datasetFrames,
  frameIds,
  partitionProgress,
  produce,
  progressLine,
  untilCommittedToEnd,
  warmModelsFor,
} from './kafka-helpers.js';
import { kafkaTopology } from './topology.js';

test('a second consumer joins mid-stream: partitions move, nothing is lost, every offset is committed', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const topics = await testTopics(brokers, 4);
  const { input, detections, deadLetters: dlq, groupId } = topics;
  const frames = await datasetFrames(240, { prompted: true, streams: 8 });
  await produce(brokers, input, frames);
  const topo = kafkaTopology({ brokers, input, groupId, detections, deadLetters: dlq });
  const doneBy = { a: 0, b: 0 };
  // b's models ready before a starts: b joins right after a's tenth detection.
  const bModels = await warmModelsFor(topo);
  t.teardown(() => bModels.dispose());
  const a = await startTopology(topo, { log: (l) => t.log(`a: ${l}`), onDone: (_r: FrameRecord) => void doneBy.a++ });
  await collect(brokers, detections, (all) => all.length >= 10, 120_000);
  const b = await startTopology(topo, { models: bModels, log: (l) => t.log(`b: ${l}`), onDone: () => void doneBy.b++ });
  const want = new Set(frames.map((f) => f.frameId));
  const outs = await collect(brokers, detections, (all) => new Set(frameIds(all)).size >= want.size, 180_000);
  // Outputs are written before their offsets are committed: wait for the commits while both
  // members are still in the group (one leaving rebalances it and fails the other's commits).
  await untilCommittedToEnd(brokers, groupId, input, 30_000);
  a.stop();
  b.stop();
  await Promise.all([a.done, b.done]);
  const progress = await partitionProgress(brokers, groupId, input);
  const ids = frameIds(outs);
  t.deepEqual(
    [...want].filter((id) => !ids.includes(id)),
    [],
  );
  t.true(doneBy.a > 0 && doneBy.b > 0, `both consumers processed frames (a ${doneBy.a}, b ${doneBy.b})`);
  t.log(`a ${doneBy.a}, b ${doneBy.b}, duplicates ${ids.length - new Set(ids).size}`);
  t.true(
    progress.every((p) => p.committed === p.end),
    `the group committed every partition to its end (committed/end: ${progressLine(progress)})`,
  );
  t.log(`committed/end: ${progressLine(progress)}`);
});
