import test from 'ava';
import { OgclipError } from '../../src/errors.js';
import { kafkaSink } from '../../src/kafka/kafka-sink.js';
import { record } from '../helpers/records.js';
import { sharedBrokers } from './broker.js';
import { kafka, uniqueName } from './kafka-helpers.js';

test('a message the topic can never take fails the kafka sink as not retriable (no retries, no stall)', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const topic = uniqueName('small');
  const admin = kafka(brokers).admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: '2000' }] }],
  });
  await admin.disconnect();
  const sink = await kafkaSink({ brokers, topic, content: 'dead-letters', clientId: uniqueName('sink') });
  t.teardown(() => sink.close());
  // A dead letter carries the original message: 20 kB cannot fit in 2 kB.
  const failed = record('big', new Uint8Array(20_000), { error: { stage: 'decode', code: 'corrupt-image', message: 'test' } });
  const err = await t.throwsAsync(sink.write([failed], { modelName: 'm', modelVersion: '1' }), { instanceOf: OgclipError });
  t.false((err as OgclipError).retriable, err?.message);
  t.regex(err!.message, new RegExp(topic));
  t.is((err?.cause as { name?: string } | undefined)?.name, 'KafkaJSProtocolError');
});
