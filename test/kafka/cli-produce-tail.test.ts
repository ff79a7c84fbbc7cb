import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { startTopology } from '../../src/topology/start-topology.js';
import { validate } from '../../src/schema/validator.js';
import { ROOT, SHAPES_VAL } from '../helpers/paths.js';
import { sharedBrokers } from './broker.js';
import { collect, frameIds, testTopics, uniqueName } from './kafka-helpers.js';
import { kafkaTopology } from './topology.js';

const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, [`${ROOT}bin/ogclip.js`, ...args], { cwd: ROOT });

test('ogclip topics + produce push a dataset; the backfill writes objects; ogclip tail prints them', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const { input, detections, deadLetters, groupId } = await testTopics(brokers, 2);
  const objects = uniqueName('obj');
  await cli('topics', objects, '--brokers', brokers.join(','), '--partitions', '2');
  await cli('produce', SHAPES_VAL, '--topic', input, '--brokers', brokers.join(','), '--limit', '12', '--stream', 'archive-1');
  const running = await startTopology(
    kafkaTopology({ brokers, input, groupId, detections, deadLetters, objects, patch: { sam2: { mode: 'automatic', pointsPerSide: 8 } } }),
    { log: () => {} },
  );
  const outs = await collect(brokers, objects, (all) => all.length >= 12, 120_000);
  running.stop();
  await running.done;
  t.deepEqual(
    frameIds(outs).sort((a, b) => Number(a) - Number(b)),
    Array.from({ length: 12 }, (_, i) => String(i)),
  );
  for (const m of outs) {
    t.deepEqual(validate('objects', JSON.parse(m.value.toString())), []);
    t.regex(m.key, /^archive-1\/\d+\/0\.1\.0$/);
  }
  const tail = spawn(
    process.execPath,
    [`${ROOT}bin/ogclip.js`, 'tail', detections, '--brokers', brokers.join(','), '--from-beginning', '--max', '12'],
    { cwd: ROOT },
  );
  let text = '';
  tail.stdout.on('data', (d: Buffer) => (text += d.toString()));
  const code = await new Promise<number | null>((resolve) => tail.once('exit', resolve));
  t.is(code, 0);
  t.is(text.trim().split('\n').length, 12);
  t.regex(text, /^archive-1\/\d+\/0\.1\.0: /m);
});
