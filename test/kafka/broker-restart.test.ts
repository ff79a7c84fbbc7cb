import test from 'ava';
import { startTopology } from '../../src/topology/start-topology.js';
import { TestBroker } from './broker.js';
import { collect, testTopics, datasetFrames, frameIds, produce } from './kafka-helpers.js';
import { kafkaTopology } from './topology.js';

test('broker killed (SIGKILL) mid-stream and restarted on its data: nothing lost, duplicates counted', async (t) => {
  const broker = await TestBroker.start();
  t.teardown(() => broker.stop());
  const brokers = broker.brokers;
  const topics = await testTopics(brokers, 2);
  const { input, detections, deadLetters: dlq, groupId } = topics;
  const frames = await datasetFrames(80, { prompted: true, streams: 4 });
  await produce(brokers, input, frames);
  const running = await startTopology(kafkaTopology({ brokers, input, groupId, detections, deadLetters: dlq }), { log: (l) => t.log(l) });
  await collect(brokers, detections, (all) => all.length >= 20, 120_000);
  await broker.kill('SIGKILL');
  await broker.restart();
  const want = new Set(frames.map((f) => f.frameId));
  const outs = await collect(brokers, detections, (all) => new Set(frameIds(all)).size >= want.size, 180_000);
  running.stop();
  await running.done;
  const ids = frameIds(outs);
  const missing = [...want].filter((id) => !ids.includes(id));
  t.deepEqual(missing, [], 'every frame reached the detections topic');
  t.log(`outputs ${ids.length} for ${want.size} frames: ${ids.length - new Set(ids).size} duplicates`);
  t.true(ids.length - new Set(ids).size <= want.size, 'duplicates are bounded');
});
