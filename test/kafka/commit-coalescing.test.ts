import test from 'ava';
import { kafkaSource } from '../../src/kafka/kafka-source.js';
import type { FrameRecord } from '../../src/record.js';
import { sharedBrokers } from './broker.js';
import { datasetFrames, groupProgress, produce, testTopics } from './kafka-helpers.js';

const FRAMES = 60;

test('acks faster than a commit round trip are coalesced: far fewer commits than acks, and the last offset is committed', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const { input, groupId } = await testTopics(brokers, 1);
  await produce(brokers, input, await datasetFrames(FRAMES));
  const source = kafkaSource({
    brokers,
    topic: input,
    groupId,
    clientId: 'coalescing',
    fromBeginning: true,
    maxBytesPerPartition: 16 * 1024 * 1024,
    sessionTimeoutMs: 10_000,
    shutdownDeadlineMs: 10_000,
    references: { referenceRoots: [], allowHttp: false, maxBytes: 16 * 1024 * 1024, httpTimeoutMs: 1000 },
    maxQueued: FRAMES,
    mode: 'lossless',
    stalenessMs: 1000,
  });
  const taken: FrameRecord[] = [];
  for await (const r of source.frames()) {
    taken.push(r);
    if (taken.length === FRAMES) break;
  }
  // Every frame acknowledged at once, as a sink batch finishing does.
  await Promise.all(taken.map((r) => source.ack(r)));
  source.stop();
  await source.close();
  t.true(source.stats.commitCalls <= 3, `${source.stats.commitCalls} commit requests for ${FRAMES} acks`);
  const progress = await groupProgress(brokers, groupId, input);
  t.is(progress.committed, progress.end, 'the last acknowledged offset is committed');
});
