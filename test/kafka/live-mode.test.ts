import test from 'ava';
import type { FrameRecord } from '../../src/record.js';
import { startTopology } from '../../src/topology/start-topology.js';
import type { KafkaSourceStats } from '../../src/sources/kafka-source.js';
import { sharedBrokers } from './broker.js';
import { collect, createTopics, datasetFrames, frameIds, groupProgress, produce, uniqueName } from './kafka-helpers.js';
import { kafkaTopology } from './topology.js';

test('live mode under overload: stale frames dropped and counted, newest processed, all committed, memory flat', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const [input, detections, dlq] = [uniqueName('in'), uniqueName('det'), uniqueName('dlq')];
  const groupId = uniqueName('g');
  await createTopics(brokers, [input, detections, dlq], 1);
  const streams = 3;
  // The automatic grid makes each frame far slower than the burst arrives: an overload.
  const frames = (await datasetFrames(150, { streams })).map((f) => ({ ...f }));
  await produce(brokers, input, frames);
  let maxInFlight = 0;
  const heap: number[] = [];
  const running = await startTopology(
    kafkaTopology({ brokers, input, groupId, detections, deadLetters: dlq, mode: 'live', patch: { live: { stalenessMs: 3000 }, sam2: { mode: 'automatic', pointsPerSide: 8 }, maxInFlight: 2 } }),
    {
      log: () => {},
      onDone: (_r: FrameRecord) => {
        maxInFlight = Math.max(maxInFlight, running.gate.inFlight);
        heap.push(process.memoryUsage().heapUsed);
      },
    },
  );
  const stats = (running.source as unknown as { stats: KafkaSourceStats }).stats;
  const last = new Set(frames.slice(-streams).map((f) => f.frameId));
  const outs = await collect(brokers, detections, (all) => [...last].every((id) => frameIds(all).includes(id)), 120_000);
  running.stop();
  await running.done;
  const ids = new Set(frameIds(outs));
  t.true([...last].every((id) => ids.has(id)), 'the newest frame of every stream was processed');
  t.true(stats.dropped > 0, `frames were dropped (${stats.dropped})`);
  t.is(ids.size + stats.dropped, frames.length, 'every frame was either processed or counted as dropped');
  t.true(maxInFlight <= 2);
  const progress = await groupProgress(brokers, groupId, input);
  t.is(progress.committed, progress.end, 'dropped frames are committed too');
  const early = heap.slice(1, 4).reduce((a, b) => Math.max(a, b), 0);
  const late = heap.slice(-3).reduce((a, b) => Math.max(a, b), 0);
  t.log(`processed ${ids.size}, dropped ${stats.dropped}, heap ${(early / 1e6).toFixed(1)} -> ${(late / 1e6).toFixed(1)} MB`);
  t.true(late - early < 64e6, 'heap does not grow with the number of frames');
});
