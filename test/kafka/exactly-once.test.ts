import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pRetry from 'p-retry';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/errors.js';
import { HEADERS } from '../../src/kafka/kafka-message.js';
import { checkExactlyOnce } from '../../src/kafka/exactly-once-delivery.js';
import { assertValid } from '../../src/schema/validator.js';
import { startTopology } from '../../src/topology/start-topology.js';
import type { Topology } from '../../src/topology/topology.js';
import { DEFAULT_BUNDLE, ROOT } from '../helpers/paths.js';
import { sharedBrokers, TestBroker } from './broker.js';
import {
  collect,
  collectToEnd,
  createTopics,
  datasetFrames,
  frameIdOf,
  kafka,
  onceEach,
  partitionProgress,
  progressLine,
  uniqueName,
  untilCommittedToEnd,
  warmModelsFor,
  type Collected,
} from './kafka-helpers.js';
import { kafkaTopology } from './topology.js';

interface Run {
  readonly brokers: string[];
  readonly topics: { input: string; detections: string; objects: string; deadLetters: string; groupId: string };
  readonly good: Set<string>;
  readonly bad: Set<string>;
  /** Where each input message is: produced round robin over the partitions, so offsets are known. */
  readonly at: Map<string, { partition: number; offset: number }>;
  readonly topology: Topology;
}

/**
 * Input topic with `n` prompted frames and, every tenth message, one that cannot be a frame (no
 * content-type: a dead letter), over `partitions` partitions; output topics for detections,
 * objects and dead letters; an exactly-once topology writing all three.
 */
async function setUp(
  brokers: string[],
  n: number,
  partitions: number,
  delivery: 'exactly-once' | 'at-least-once' = 'exactly-once',
): Promise<Run> {
  const topics = {
    input: uniqueName('in'),
    detections: uniqueName('det'),
    objects: uniqueName('obj'),
    deadLetters: uniqueName('dlq'),
    groupId: uniqueName('g'),
  };
  // A just-created topic can be missing from the broker's metadata for a moment while the admin
  // client waits for its leaders (a retriable UNKNOWN_TOPIC_OR_PARTITION): creating again is harmless.
  const names = [topics.input, topics.detections, topics.objects, topics.deadLetters];
  await pRetry(() => createTopics(brokers, names, partitions), { retries: 5, minTimeout: 200, maxTimeout: 1000 });
  const frames = await datasetFrames(n, { prompted: true, streams: 8 });
  const messages: { id: string; value: Buffer; headers: Record<string, string>; partition: number }[] = [];
  const bad = new Set<string>();
  const at = new Map<string, { partition: number; offset: number }>();
  const add = (id: string, value: Buffer, headers: Record<string, string>) => {
    const partition = messages.length % partitions;
    at.set(id, { partition, offset: Math.floor(messages.length / partitions) });
    messages.push({ id, value, headers, partition });
  };
  frames.forEach((f, i) => {
    add(f.frameId, f.value, f.headers as Record<string, string>);
    if (i % 10 === 9) {
      bad.add(`bad-${i}`);
      add(`bad-${i}`, Buffer.from('not an image'), { [HEADERS.frameId]: `bad-${i}` });
    }
  });
  const producer = kafka(brokers).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({
    topic: topics.input,
    acks: -1,
    messages: messages.map((m) => ({ value: m.value, headers: m.headers, partition: m.partition })),
  });
  await producer.disconnect();
  const topology = kafkaTopology({
    brokers,
    input: topics.input,
    groupId: topics.groupId,
    detections: topics.detections,
    objects: topics.objects,
    deadLetters: topics.deadLetters,
    patch: { delivery },
  });
  return { brokers, topics, good: new Set(frames.map((f) => f.frameId)), bad, at, topology };
}

/** Reads every output topic to its end (read_committed) and checks each input frame is there exactly once. */
async function assertExactlyOnce(t: ExecutionContext, run: Run): Promise<void> {
  const { detections, objects, deadLetters } = run.topics;
  const outs = await collectToEnd(run.brokers, [detections, objects, deadLetters], 120_000);
  const ids = (topic: string) => (outs.get(topic) ?? []).map((m: Collected) => frameIdOf(m));
  const checks = [
    { name: 'detections', got: onceEach(ids(detections), run.good) },
    { name: 'objects', got: onceEach(ids(objects), run.good) },
    { name: 'dead letters', got: onceEach(ids(deadLetters), run.bad) },
  ];
  for (const { name, got } of checks) {
    t.log(`${name}: ${got.duplicates.length} duplicates, ${got.missing.length} missing, ${got.extra.length} unexpected`);
    t.deepEqual(got.duplicates, [], `${name}: no frame twice in the read_committed view`);
    t.deepEqual(got.missing, [], `${name}: every frame there`);
    t.deepEqual(got.extra, [], `${name}: nothing else`);
  }
  const progress = await untilCommittedToEnd(run.brokers, run.topics.groupId, run.topics.input, 30_000);
  t.true(
    progress.every((p) => p.committed === p.end),
    `the group's offsets reached the end of every partition (committed/end: ${progressLine(progress)})`,
  );
}

test('exactly-once is refused with a non-Kafka source or a sink that cannot join the transaction; console and summary may stay', (t) => {
  const topo = (patch: Record<string, unknown>) =>
    assertValid<Topology>(
      'topology',
      {
        name: 'eos',
        bundle: DEFAULT_BUNDLE,
        delivery: 'exactly-once',
        source: { kind: 'kafka', brokers: ['127.0.0.1:1'], topic: 'in', groupId: 'g' },
        sinks: [{ kind: 'kafka', brokers: ['127.0.0.1:1'], topic: 'det', content: 'detections' }],
        ...patch,
      },
      'test topology',
    );
  t.is(topo({}).delivery, 'exactly-once');
  t.is(
    assertValid<Topology>(
      'topology',
      { name: 'x', bundle: 'b', source: { kind: 'directory', path: '.' }, sinks: [{ kind: 'console' }] },
      'x',
    ).delivery,
    'at-least-once',
  );
  const dir = t.throws(() => checkExactlyOnce(topo({ source: { kind: 'directory', path: '.' } })), { instanceOf: ConfigError });
  t.regex(dir.message, /needs a kafka source.*"directory".*delivery: at-least-once/);
  const jsonl = t.throws(
    () =>
      checkExactlyOnce(
        topo({
          sinks: [
            { kind: 'kafka', brokers: ['127.0.0.1:1'], topic: 'det', content: 'detections' },
            { kind: 'jsonl', path: 'x.jsonl', content: 'objects' },
          ],
        }),
      ),
    { instanceOf: ConfigError },
  );
  t.regex(jsonl.message, /sinks of kind jsonl would write replayed frames twice: remove them/);
  t.notThrows(() =>
    checkExactlyOnce(
      topo({
        sinks: [
          { kind: 'kafka', brokers: ['127.0.0.1:1'], topic: 'det', content: 'detections' },
          { kind: 'console' },
          { kind: 'summary', path: 'summary.json' },
        ],
      }),
    ),
  );
  t.throws(() => checkExactlyOnce(topo({ sinks: [{ kind: 'console' }] })), { instanceOf: ConfigError, message: /at least one kafka sink/ });
  // The outputs go through the source's producers: a sink on other brokers would be silently ignored.
  const elsewhere = t.throws(
    () =>
      checkExactlyOnce(
        topo({
          sinks: [
            { kind: 'kafka', brokers: ['127.0.0.1:1'], topic: 'det', content: 'detections' },
            { kind: 'kafka', brokers: ['10.0.0.9:9092'], topic: 'obj', content: 'objects' },
          ],
        }),
      ),
    { instanceOf: ConfigError },
  );
  t.regex(elsewhere.message, /kafka sink "obj" names 10\.0\.0\.9:9092: give it the source's brokers/);
  t.notThrows(
    () =>
      checkExactlyOnce(
        topo({
          source: { kind: 'kafka', brokers: ['127.0.0.1:2', '127.0.0.1:1'], topic: 'in', groupId: 'g' },
          sinks: [{ kind: 'kafka', brokers: ['127.0.0.1:1', '127.0.0.1:2'], topic: 'det', content: 'detections' }],
        }),
      ),
    'the same brokers in another order',
  );
});

/**
 * SIGKILLs the pipeline at the moment that at-least-once turns into duplicates: outputs of a
 * frame written, its offset not committed. Each time a detection appears (read uncommitted, so
 * that an open transaction's messages count too), the process is frozen (SIGSTOP) and the
 * group's offsets are read; if a frame seen has an offset at or past its partition's committed
 * one, it is killed, else it goes on (SIGCONT). Returns whether that moment was caught (after
 * 30 frames it is killed anyway).
 */
async function killBetweenWriteAndCommit(run: Run, proc: ChildProcess): Promise<boolean> {
  const k = kafka(run.brokers);
  const admin = k.admin();
  await admin.connect();
  const watcher = k.consumer({ groupId: uniqueName('watch'), readUncommitted: true, maxWaitTimeInMs: 50 });
  await watcher.connect();
  await watcher.subscribe({ topic: run.topics.detections, fromBeginning: true });
  const seen: string[] = [];
  let checking = false;
  try {
    return await new Promise<boolean>((resolve) => {
      void watcher.run({
        eachMessage: async ({ message }) => {
          seen.push((JSON.parse(message.value!.toString()) as { frame_id: string }).frame_id);
          if (checking || seen.length < 3) return;
          checking = true;
          proc.kill('SIGSTOP');
          await new Promise((r) => setTimeout(r, 500)); // requests sent before the freeze land
          const [offsets] = await admin.fetchOffsets({ groupId: run.topics.groupId, topics: [run.topics.input] });
          const committed = new Map((offsets?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
          const ahead = seen.some((id) => run.at.get(id)!.offset >= (committed.get(run.at.get(id)!.partition) ?? -1));
          if (ahead || seen.length >= 30) {
            proc.kill('SIGKILL');
            resolve(ahead);
            return;
          }
          proc.kill('SIGCONT');
          checking = false;
        },
      });
    });
  } finally {
    await watcher.disconnect();
    await admin.disconnect();
  }
}

function runCli(yaml: string): ChildProcess {
  return spawn(process.execPath, [`${ROOT}bin/ogclip.js`, 'run', yaml], { stdio: ['ignore', 'ignore', 'pipe'] });
}
const exited = (p: ChildProcess) => new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));

/**
 * Runs the CLI on `run`'s topology, SIGKILLs it between a write and its commit, and runs it again
 * to the end of the input (then SIGTERM). Asserts that the kill landed there: otherwise the test
 * would pass without exercising the path it is about.
 */
async function killAndRestart(t: ExecutionContext, run: Run): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ogclip-eos-'));
  const yaml = join(dir, 'kafka.yaml');
  await writeFile(yaml, stringify(run.topology));

  const first = runCli(yaml);
  t.teardown(() => first.kill('SIGKILL'));
  const firstExit = exited(first);
  const caught = await killBetweenWriteAndCommit(run, first);
  t.true(caught, 'killed with outputs written whose offsets were not committed');
  await firstExit;

  const second = runCli(yaml);
  t.teardown(() => second.kill('SIGKILL'));
  await untilCommittedToEnd(run.brokers, run.topics.groupId, run.topics.input, 180_000);
  const secondExit = exited(second);
  second.kill('SIGTERM');
  t.is(await secondExit, 0, 'SIGTERM ends the run cleanly');
}

test('exactly-once: pipeline killed (SIGKILL) mid-stream and started again: every frame once in the read_committed outputs', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const run = await setUp(brokers, 60, 2);
  await killAndRestart(t, run);
  await assertExactlyOnce(t, run);
});

test('at-least-once control: the same kill and restart writes duplicates (the scenario above is a real one)', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const run = await setUp(brokers, 60, 2, 'at-least-once');
  await killAndRestart(t, run);
  const outs = await collectToEnd(run.brokers, [run.topics.detections], 120_000);
  const got = onceEach((outs.get(run.topics.detections) ?? []).map(frameIdOf), run.good);
  t.log(`at-least-once detections: ${got.duplicates.length} frames twice, ${got.missing.length} missing`);
  t.true(got.duplicates.length > 0, 'frames written before the kill and not committed are written again');
  t.deepEqual(got.missing, [], 'nothing lost');
});

test('exactly-once: broker killed (SIGKILL) mid-stream and restarted: every frame once in the read_committed outputs', async (t) => {
  const broker = await TestBroker.start();
  t.teardown(() => broker.stop());
  const run = await setUp(broker.brokers, 60, 2);
  const running = await startTopology(run.topology, { log: (l) => t.log(l) });
  const source = running.source as unknown as { stats: { transactions: number; aborted: number; open: number } };
  await collect(broker.brokers, run.topics.detections, (all) => all.length >= 12, 120_000);
  // Killed while a transaction is in flight (begun, not yet committed): the case the test is about.
  const deadline = Date.now() + 60_000;
  while (source.stats.open === 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  const openAtKill = source.stats.open;
  const killed = broker.kill('SIGKILL');
  t.true(openAtKill > 0, 'a transaction was open when the broker was killed');
  await killed;
  await broker.restart();
  const progress = await untilCommittedToEnd(broker.brokers, run.topics.groupId, run.topics.input, 240_000);
  t.log(`after the restart: committed/end ${progressLine(progress)}`);
  running.stop();
  await running.done;
  t.log(`transactions committed ${source.stats.transactions}, failed and rewound ${source.stats.aborted}, open at the kill ${openAtKill}`);
  await assertExactlyOnce(t, run);
});

test('exactly-once: a second member joins mid-stream (rebalance): every frame once in the read_committed outputs', async (t) => {
  const { brokers, release } = await sharedBrokers();
  t.teardown(release);
  const run = await setUp(brokers, 120, 4);
  const doneBy = { a: 0, b: 0 };
  // b's models opened and warmed up before a starts: b then joins within a rebalance of a's
  // tenth detection, not after its own start-up, by which time a could have finished alone.
  const bModels = await warmModelsFor(run.topology);
  t.teardown(() => bModels.dispose());
  const a = await startTopology(run.topology, { log: (l) => t.log(`a: ${l}`), onDone: () => void doneBy.a++ });
  await collect(brokers, run.topics.detections, (all) => all.length >= 10, 120_000);
  const b = await startTopology(run.topology, { models: bModels, log: (l) => t.log(`b: ${l}`), onDone: () => void doneBy.b++ });
  // Both stay in the group until every offset is committed: one leaving rebalances the other.
  const progress = await untilCommittedToEnd(brokers, run.topics.groupId, run.topics.input, 240_000);
  t.log(`committed/end ${progressLine(progress)}`);
  a.stop();
  b.stop();
  await Promise.all([a.done, b.done]);
  t.true(doneBy.a > 0 && doneBy.b > 0, `both members processed frames (a ${doneBy.a}, b ${doneBy.b})`);
  await assertExactlyOnce(t, run);
  const end = await partitionProgress(brokers, run.topics.groupId, run.topics.input);
  t.log(`a ${doneBy.a}, b ${doneBy.b} frames; committed/end ${progressLine(end)}`);
});
