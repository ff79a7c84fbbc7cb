import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ROOT } from '../helpers/paths.js';
import { sharedBrokers } from './broker.js';
import { collect, testTopics, datasetFrames, frameIds, groupProgress, produce } from './kafka-helpers.js';
import { kafkaTopology } from './topology.js';

function runCli(yaml: string): ChildProcess {
  return spawn(process.execPath, [`${ROOT}bin/ogclip.js`, 'run', yaml], { stdio: ['ignore', 'ignore', 'pipe'] });
}

const exited = (p: ChildProcess) => new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));

test('pipeline process killed (SIGKILL) mid-stream and started again: nothing lost; SIGTERM drains and commits', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const topics = await testTopics(brokers, 2);
  const { input, detections, deadLetters: dlq, groupId } = topics;
  const frames = await datasetFrames(80, { prompted: true, streams: 2 });
  await produce(brokers, input, frames);
  const dir = await mkdtemp(join(tmpdir(), 'ogclip-topo-'));
  const yaml = join(dir, 'kafka.yaml');
  await writeFile(yaml, stringify(kafkaTopology({ brokers, input, groupId, detections, deadLetters: dlq })));

  const first = runCli(yaml);
  t.teardown(() => first.kill('SIGKILL'));
  await collect(brokers, detections, (all) => all.length >= 15, 120_000);
  const firstExit = exited(first);
  first.kill('SIGKILL');
  await firstExit;

  const second = runCli(yaml);
  t.teardown(() => second.kill('SIGKILL'));
  const want = new Set(frames.map((f) => f.frameId));
  const outs = await collect(brokers, detections, (all) => new Set(frameIds(all)).size >= want.size, 180_000);
  const secondExit = exited(second);
  second.kill('SIGTERM');
  t.is(await secondExit, 0, 'SIGTERM ends the run cleanly');

  const ids = frameIds(outs);
  t.deepEqual(
    [...want].filter((id) => !ids.includes(id)),
    [],
  );
  t.log(`outputs ${ids.length} for ${want.size} frames: ${ids.length - new Set(ids).size} duplicates after the kill`);
  const progress = await groupProgress(brokers, groupId, input);
  t.is(progress.committed, progress.end, 'after the graceful stop every offset is committed');
});
