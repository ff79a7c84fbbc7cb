import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DEFAULT_BUNDLE, ROOT } from '../helpers/paths.js';
import { sharedBrokers } from './broker.js';
import { createTopics, testTopics, uniqueName } from './kafka-helpers.js';

test('a sink that cannot start ends `ogclip run` with its error: the consumer and producer opened before it are closed', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const { input, detections, groupId } = await testTopics(brokers, 1);
  const control = uniqueName('labels');
  await createTopics(brokers, [control]);
  const dir = await mkdtemp(join(tmpdir(), 'ogclip-start-failure-'));
  const topology = join(dir, 'topology.yaml');
  await writeFile(
    topology,
    stringify({
      name: 'start-failure',
      bundle: DEFAULT_BUNDLE,
      source: { kind: 'kafka', brokers, topic: input, groupId },
      labels: { controlTopic: control }, // a consumer, connected before the sinks are made
      sinks: [
        { kind: 'kafka', brokers, content: 'detections', topic: detections }, // a producer, connected
        { kind: 'jsonl', content: 'objects', path: '/dev/null/cannot/objects.jsonl' }, // fails to start
      ],
    }),
  );
  const child = spawn(process.execPath, [`${ROOT}bin/ogclip.js`, 'run', topology], { cwd: ROOT });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Without the clean-up the open consumer and producer keep the process alive: it never exits.
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (c, s) => resolve([c, s])),
  );
  clearTimeout(killer);
  t.is(signal, null, `the process had to be killed; stderr:\n${stderr}`);
  t.is(code, 1);
  t.regex(stderr, /\/dev\/null\/cannot/);
});
