import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTopology } from '../../src/topology/start-topology.js';
import { validate } from '../../src/schema/validator.js';
import { DLQ_HEADERS } from '../../src/kafka/kafka-sink.js';
import { HEADERS } from '../../src/kafka/kafka-message.js';
import { corruptJpeg, pngImage } from '../helpers/images.js';
import { sharedBrokers } from './broker.js';
import { collect, testTopics, frameIds, produce } from './kafka-helpers.js';
import { kafkaTopology } from './topology.js';

test('bad messages reach the dead-letter topic with their reasons and the stream goes on', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const topics = await testTopics(brokers, 1);
  const { input, detections, deadLetters: dlq, groupId } = topics;
  const dir = await mkdtemp(join(tmpdir(), 'ogclip-refs-'));
  const good = Buffer.from(await pngImage(96, 96));
  await writeFile(join(dir, 'frame.png'), good);
  const prompts = JSON.stringify([{ points: [[20, 20]] }]);
  const img = (id: string, value: Buffer, extra: Record<string, string> = {}) => ({
    value,
    headers: { [HEADERS.contentType]: 'image/png', [HEADERS.frameId]: id, [HEADERS.prompts]: prompts, ...extra },
  });
  const envelope = (id: string, body: unknown) => ({
    value: Buffer.from(JSON.stringify(body)),
    headers: { [HEADERS.contentType]: 'application/json', [HEADERS.frameId]: id },
  });
  await produce(brokers, input, [
    img('good-1', good),
    img('corrupt', Buffer.from(await corruptJpeg()), { [HEADERS.contentType]: 'image/jpeg' }),
    { value: Buffer.from('{not json'), headers: { [HEADERS.contentType]: 'application/json', [HEADERS.frameId]: 'bad-json' } },
    img('oversize', Buffer.concat([good, Buffer.alloc(300_000)])),
    envelope('unreadable-ref', { frame_id: 'unreadable-ref', image_ref: `file://${dir}/missing.png` }),
    envelope('outside-ref', { frame_id: 'outside-ref', image_ref: 'file:///etc/hostname' }),
    { value: good, headers: { [HEADERS.frameId]: 'no-headers' } },
    img('prompt-outside', good, { [HEADERS.prompts]: JSON.stringify([{ points: [[500, 5]] }]) }),
    envelope('good-ref', {
      frame_id: 'good-ref',
      image_ref: `file://${dir}/frame.png`,
      content_type: 'image/png',
      prompts: [{ points: [[30, 30]] }],
    }),
    envelope('good-inline', { frame_id: 'good-inline', image_base64: good.toString('base64'), prompts: [{ box: [10, 10, 60, 60] }] }),
    img('good-2', good),
  ]);
  const topo = kafkaTopology({
    brokers,
    input,
    groupId,
    detections,
    deadLetters: dlq,
    source: { referenceRoots: [dir] },
    patch: { decode: { maxBytes: 200_000 } },
  });
  const running = await startTopology(topo, { log: () => {} });
  const dead = await collect(brokers, dlq, (all) => all.length >= 7, 60_000);
  const outs = await collect(brokers, detections, (all) => all.length >= 4, 60_000);
  running.stop();
  await running.done;
  const reasons = Object.fromEntries(
    dead.map((m) => [m.headers[HEADERS.frameId] ?? m.key.split('/')[1], `${m.headers[DLQ_HEADERS.stage]}:${m.headers[DLQ_HEADERS.code]}`]),
  );
  t.deepEqual(reasons, {
    corrupt: 'decode:corrupt-image',
    'bad-json': 'source:bad-message',
    oversize: 'decode:image-too-large',
    'unreadable-ref': 'source:unreadable-reference',
    'outside-ref': 'source:unreadable-reference',
    'no-headers': 'source:bad-message',
    'prompt-outside': 'sam2:bad-prompt',
  });
  for (const m of dead) {
    t.truthy(m.headers[DLQ_HEADERS.message]);
    t.is(m.headers[DLQ_HEADERS.topic], input);
    t.regex(m.headers[DLQ_HEADERS.offset]!, /^\d+$/);
  }
  // The original message is kept byte for byte (here: the broken JSON).
  t.is(dead.find((m) => m.headers[HEADERS.frameId] === 'bad-json')!.value.toString(), '{not json');
  t.deepEqual(frameIds(outs).sort(), ['good-1', 'good-2', 'good-inline', 'good-ref']);
  for (const m of outs) t.deepEqual(validate('detections', JSON.parse(m.value.toString())), []);
});
