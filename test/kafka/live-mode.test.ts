import test from 'ava';
import { kafkaSource } from '../../src/kafka/kafka-source.js';
import { startTopology } from '../../src/topology/start-topology.js';
import { sharedBrokers } from './broker.js';
import { collect, testTopics, datasetFrames, frameIds, groupProgress, inFlightProbe, produce, type Collected } from './kafka-helpers.js';
import { kafkaTopology } from './topology.js';

test('live mode under overload: stale frames dropped and counted, newest processed, all committed, memory flat', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const topics = await testTopics(brokers, 1);
  const { input, detections, deadLetters: dlq, groupId } = topics;
  const streams = 3;
  // Bursts of 30 frames arrive far faster than frames are processed: an overload.
  const frames = await datasetFrames(150, { streams, prompted: true });
  const maxInFlight = 2;
  const heap: number[] = [];
  const topology = kafkaTopology({
    brokers,
    input,
    groupId,
    detections,
    deadLetters: dlq,
    mode: 'live',
    patch: { live: { stalenessMs: 5000 }, maxInFlight },
  });
  const spec = topology.source;
  if (spec.kind !== 'kafka') throw new Error('kafkaTopology gives a kafka source');
  // The topology's own Kafka source, built here so the probe can sit between it and the pipeline.
  const kafka = kafkaSource({
    ...spec,
    references: {
      referenceRoots: spec.referenceRoots,
      allowHttp: spec.allowHttpReferences,
      maxBytes: topology.decode.maxBytes,
      httpTimeoutMs: 10_000,
    },
    maxQueued: topology.maxInFlight,
    mode: topology.mode,
    stalenessMs: topology.live.stalenessMs,
  });
  const probe = inFlightProbe(kafka);
  const running = await startTopology(topology, {
    source: probe.source,
    log: () => {},
    onDone: () => {
      probe.done();
      heap.push(process.memoryUsage().heapUsed);
    },
  });
  const stats = kafka.stats;
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
  t.true(probe.peak() <= maxInFlight, `at most ${maxInFlight} frames inside at once (peak ${probe.peak()})`);
  const ids = new Set(frameIds(outs));
  t.true(stats.dropped > 0, `frames were dropped (${stats.dropped})`);
  t.is(ids.size + stats.dropped, frames.length, 'every frame was either processed or counted as dropped');
  const progress = await groupProgress(brokers, groupId, input);
  t.is(progress.committed, progress.end, 'dropped frames are committed too');
  const early = heap.slice(1, 4).reduce((a, b) => Math.max(a, b), 0);
  const late = heap.slice(-3).reduce((a, b) => Math.max(a, b), 0);
  t.log(
    `processed ${ids.size}, dropped ${stats.dropped}, peak in flight ${probe.peak()}, heap ${(early / 1e6).toFixed(1)} -> ${(late / 1e6).toFixed(1)} MB`,
  );
  t.true(late - early < 64e6, 'heap does not grow with the number of frames');
});
