import test from 'ava';
import type { FrameRecord } from '../../src/record.js';
import { startTopology } from '../../src/topology/start-topology.js';
import type { KafkaSourceStats } from '../../src/kafka/kafka-source.js';
import { sharedBrokers } from './broker.js';
import { collect, testTopics, datasetFrames, frameIds, groupProgress, produce, type Collected } from './kafka-helpers.js';
import { kafkaTopology } from './topology.js';

test('live mode under overload: stale frames dropped and counted, newest processed, all committed, memory flat', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const topics = await testTopics(brokers, 1);
  const { input, detections, deadLetters: dlq, groupId } = topics;
  const streams = 3;
  // Bursts of 30 frames arrive far faster than frames are processed: an overload.
  const frames = await datasetFrames(150, { streams, prompted: true });
  let maxInFlight = 0;
  const heap: number[] = [];
  const running = await startTopology(
    kafkaTopology({
      brokers,
      input,
      groupId,
      detections,
      deadLetters: dlq,
      mode: 'live',
      patch: { live: { stalenessMs: 5000 }, maxInFlight: 2 },
    }),
    {
      log: () => {},
      onDone: (_r: FrameRecord) => {
        maxInFlight = Math.max(maxInFlight, running.gate.inFlight);
        heap.push(process.memoryUsage().heapUsed);
      },
    },
  );
  const stats = (running.source as unknown as { stats: KafkaSourceStats }).stats;
  // Five bursts, each sent once the newest frames of the previous one came out.
  let outs: Collected[] = [];
  for (let wave = 0; wave < 5; wave++) {
    const burst = frames.slice(wave * 30, (wave + 1) * 30);
    await produce(brokers, input, burst);
    const newest = new Set(burst.slice(-streams).map((f) => f.frameId));
    outs = await collect(brokers, detections, (all) => [...newest].every((id) => frameIds(all).includes(id)), 120_000);
    t.true(
      [...newest].every((id) => frameIds(outs).includes(id)),
      `burst ${wave}: the newest frame of every stream was processed`,
    );
  }
  running.stop();
  await running.done;
  const ids = new Set(frameIds(outs));
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
