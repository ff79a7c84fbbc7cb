import test from 'ava';
import { startTopology } from '../../src/topology/start-topology.js';
import { sharedBrokers } from './broker.js';
import { collect, createTopics, datasetFrames, produce, uniqueName } from './kafka-helpers.js';
import { kafkaTopology } from './topology.js';

test('a message on the control topic replaces the label set while running', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const [input, detections, dlq, control] = [uniqueName('in'), uniqueName('det'), uniqueName('dlq'), uniqueName('labels')];
  await createTopics(brokers, [input, detections, dlq, control]);
  const running = await startTopology(
    kafkaTopology({
      brokers,
      input,
      groupId: uniqueName('g'),
      detections,
      deadLetters: dlq,
      patch: { labels: { controlTopic: control }, similarity: { threshold: 0 } },
    }),
    { log: () => {} },
  );
  const changed = running.labels.changed();
  const newLabels = ['a large red circle', 'a small blue star'];
  await produce(brokers, control, [
    { value: 'not json' },
    { value: JSON.stringify({ labels: [] }) },
    // Valid for the schema, refused by the label set (nothing left after trimming): skipped, not retried forever.
    { value: JSON.stringify({ labels: [' '] }) },
    { value: JSON.stringify({ labels: newLabels, template: 'a picture of {}' }) },
  ]);
  await changed;
  t.deepEqual([...running.labels.labels], newLabels, 'invalid control messages were skipped, the valid one applied');
  t.is(running.labels.template, 'a picture of {}', 'the template of the control message applies too');
  await produce(brokers, input, await datasetFrames(5, { prompted: true }));
  const outs = await collect(brokers, detections, (all) => all.length >= 5, 60_000);
  running.stop();
  await running.done;
  const labels = new Set(
    outs.flatMap((m) => (JSON.parse(m.value.toString()) as { detections: { label: string }[] }).detections.map((d) => d.label)),
  );
  t.true(labels.size > 0);
  t.true(
    [...labels].every((l) => newLabels.includes(l)),
    `only the new labels are used (${[...labels].join(', ')})`,
  );
});
