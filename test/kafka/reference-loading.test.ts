import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HEADERS } from '../../src/kafka/kafka-message.js';
import { kafkaSource, type KafkaSourceOptions } from '../../src/kafka/kafka-source.js';
import type { FrameRecord } from '../../src/record.js';
import { pngImage } from '../helpers/images.js';
import { sharedBrokers } from './broker.js';
import { createTopics, produce, uniqueName } from './kafka-helpers.js';

/** An image server whose answers take `delayMs(n)` for the n-th request; counts requests in progress. */
async function slowImages(delayMs: (n: number) => number): Promise<{ url: string; peak(): number; close(): Promise<void> }> {
  const png = Buffer.from(await pngImage(32, 32));
  let active = 0;
  let peak = 0;
  let n = 0;
  const server: Server = createServer((_req, res) => {
    active++;
    peak = Math.max(peak, active);
    setTimeout(() => {
      active--;
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
      res.end(png);
    }, delayMs(n++));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/frame.png`,
    peak: () => peak,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const envelope = (id: string, url: string) => ({
  value: Buffer.from(JSON.stringify({ frame_id: id, image_ref: url, content_type: 'image/png' })),
  headers: { [HEADERS.contentType]: 'application/json' },
});

const options = (brokers: string[], topic: string, patch: Partial<KafkaSourceOptions>): KafkaSourceOptions => ({
  brokers,
  topic,
  groupId: uniqueName('g'),
  clientId: 'references-test',
  fromBeginning: true,
  maxBytesPerPartition: 1024 * 1024,
  sessionTimeoutMs: 10_000,
  shutdownDeadlineMs: 5_000,
  references: { referenceRoots: [], allowHttp: true, maxBytes: 1024 * 1024, httpTimeoutMs: 30_000 },
  maxQueued: 50,
  mode: 'lossless',
  stalenessMs: 1000,
  ...patch,
});

async function take(source: ReturnType<typeof kafkaSource>, n: number): Promise<FrameRecord[]> {
  const out: FrameRecord[] = [];
  for await (const r of source.frames()) {
    out.push(r);
    if (out.length === n) break;
  }
  return out;
}

test('image references of a batch load concurrently, at most referenceConcurrency at once, and come out in order', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const images = await slowImages(() => 300);
  t.teardown(() => images.close());
  const topic = uniqueName('refs');
  await createTopics(brokers, [topic], 1);
  const ids = Array.from({ length: 12 }, (_, i) => `ref-${i}`);
  await produce(
    brokers,
    topic,
    ids.map((id) => envelope(id, images.url)),
  );
  const source = kafkaSource(options(brokers, topic, { referenceConcurrency: 4 }));
  t.teardown(async () => {
    source.stop();
    await source.close();
  });
  const frames = await take(source, ids.length);
  t.deepEqual(
    frames.map((r) => r.frameId),
    ids,
  );
  t.deepEqual(
    frames.filter((r) => r.error).map((r) => r.error!.message),
    [],
    'every reference loaded',
  );
  t.true(images.peak() > 1, `references loaded one at a time (peak ${images.peak()})`);
  t.true(images.peak() <= 4, `at most 4 at once (peak ${images.peak()})`);
});

test('a reference slower than the session timeout does not get the member dropped from its group', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const images = await slowImages((n) => (n === 0 ? 9000 : 0)); // only the first answer is slow
  t.teardown(() => images.close());
  const topic = uniqueName('refs');
  await createTopics(brokers, [topic], 1);
  await produce(brokers, topic, [envelope('slow', images.url), envelope('next', images.url)]);
  const source = kafkaSource(options(brokers, topic, { sessionTimeoutMs: 6000, referenceConcurrency: 1 }));
  t.teardown(async () => {
    source.stop();
    await source.close();
  });
  const frames = await take(source, 2);
  t.deepEqual(
    frames.map((r) => `${r.frameId}${r.error ? ` (${r.error.message})` : ''}`),
    ['slow', 'next'],
    'each frame once, loaded',
  );
  t.is(source.stats.rebalances, 1, 'one join: the member was never dropped from the group');
});
