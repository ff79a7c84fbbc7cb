// The README's backfill recipe, timed: N frames produced to a topic of P partitions keyed by frame
// (as `ogclip produce` does by default), then M `ogclip run` processes in one consumer group, for
// each M asked; the time from starting the processes to the group's committed offsets reaching the
// end of the input. Start-up (model load, group join) is inside that time, as it is for a user;
// the first commit's time is recorded beside it.
//   scripts/kafka/start-broker.sh 9092 &          (a local broker)
//   npm run -s build && node dist/bench/scale-out-bench.js --brokers 127.0.0.1:9092 [--frames 300] [--members 1,2]
// Writes bench/results/scale-out.json (or --out) and prints a markdown table.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { parse, stringify } from 'yaml';
import { HEADERS } from '../src/kafka/kafka-message.js';
import { createBenchTopics, produceAll } from './bench-topics.js';
import { readDataset } from '../src/sources/dataset-replay-source.js';

const { values: args } = parseArgs({
  options: {
    brokers: { type: 'string' },
    topology: { type: 'string', default: 'topologies/backfill.yaml' },
    dataset: { type: 'string', default: 'datasets/shapes-val' },
    frames: { type: 'string', default: '300' },
    partitions: { type: 'string', default: '4' },
    members: { type: 'string', default: '1,2' },
    threads: { type: 'string' }, // intra-op threads per session in each process; default: the topology's
    out: { type: 'string', default: 'bench/results/scale-out.json' },
  },
});
if (!args.brokers) throw new Error('--brokers host:port is needed (a local broker: scripts/kafka/start-broker.sh)');
const brokers = args.brokers.split(',');
const frames = Number(args.frames);
const partitions = Number(args.partitions);
const kafka = new Kafka({ clientId: 'scale-out-bench', brokers, logLevel: logLevel.NOTHING });
const topologyFile = resolve(args.topology!);
const base = parse(await readFile(topologyFile, 'utf8')) as Record<string, unknown>;

const entries = (await readDataset(args.dataset!)).slice(0, frames);
const messages = await Promise.all(
  entries.map(async (e) => ({
    key: `bench/f${e.index}`, // by frame: spread over every partition
    value: await readFile(e.imagePath),
    headers: { [HEADERS.contentType]: 'image/jpeg', [HEADERS.frameId]: `f${e.index}`, [HEADERS.streamId]: 'bench' },
  })),
);

async function committed(groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return (offsets?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

async function run(members: number): Promise<{ members: number; seconds: number; framesPerSecond: number; firstCommitSeconds: number }> {
  const id = `${members}-${Date.now()}`;
  const names = { input: `scale-in-${id}`, objects: `scale-obj-${id}`, detections: `scale-det-${id}`, dlq: `scale-dlq-${id}` };
  await createBenchTopics(kafka, Object.values(names), partitions);
  await produceAll(kafka, names.input, messages);

  const dir = await mkdtemp(join(tmpdir(), 'ogclip-scale-out-'));
  const source = base.source as Record<string, unknown>;
  const sink = (content: string, topic: string) => ({ kind: 'kafka', brokers, content, topic });
  const topology = {
    ...base,
    bundle: resolve(topologyFile, '..', base.bundle as string),
    source: { ...source, brokers, topic: names.input, groupId: `scale-${id}`, referenceRoots: [] },
    sinks: [sink('objects', names.objects), sink('detections', names.detections), sink('dead-letters', names.dlq)],
    telemetry: {}, // no ports: several processes on one machine
    ...(args.threads ? { runtime: { ...(base.runtime as object), intraOpNumThreads: Number(args.threads) } } : {}),
  };
  const yaml = join(dir, 'topology.yaml');
  await writeFile(yaml, stringify(topology));

  const start = performance.now();
  const children: ChildProcess[] = Array.from({ length: members }, () =>
    spawn(process.execPath, ['bin/ogclip.js', 'run', yaml], { stdio: ['ignore', 'ignore', 'inherit'] }),
  );
  let firstCommit: number | undefined;
  for (;;) {
    const n = await committed(`scale-${id}`, names.input);
    if (n > 0) firstCommit ??= performance.now();
    if (n >= frames) break;
    if (children.some((c) => c.exitCode !== null)) throw new Error('a pipeline process ended before the input was done');
    await new Promise((r) => setTimeout(r, 250));
  }
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(
    children.map(async (c) => {
      c.kill('SIGTERM');
      if (c.exitCode === null) await once(c, 'exit');
    }),
  );
  await rm(dir, { recursive: true, force: true });
  return { members, seconds, framesPerSecond: frames / seconds, firstCommitSeconds: (firstCommit! - start) / 1000 };
}

const results = [];
for (const m of args.members!.split(',').map(Number)) {
  const r = await run(m);
  process.stderr.write(`${m} process(es): ${r.framesPerSecond.toFixed(2)} frames/s (${r.seconds.toFixed(1)} s)\n`);
  results.push(r);
}
const round = (x: number) => Math.round(x * 100) / 100;
const one = results.find((r) => r.members === 1);
const report = {
  command: `node dist/bench/scale-out-bench.js --brokers <broker> --frames ${frames} --partitions ${partitions} --members ${args.members}${args.threads ? ` --threads ${args.threads}` : ''}`,
  date: new Date().toISOString(),
  machine: `${cpus().length} CPU cores (${cpus()[0]?.model ?? 'unknown'}); single-node local broker on the same machine`,
  topology: args.topology,
  frames,
  partitions,
  runs: results.map((r) => ({
    members: r.members,
    seconds: round(r.seconds),
    frames_per_s: round(r.framesPerSecond),
    first_commit_s: round(r.firstCommitSeconds),
    ...(one ? { speed_up: round(r.framesPerSecond / one.framesPerSecond) } : {}),
  })),
};
await writeFile(args.out!, JSON.stringify(report, null, 2) + '\n');
process.stdout.write(
  `| processes | frames/s | seconds | speed-up |\n|---|---|---|---|\n` +
    report.runs.map((r) => `| ${r.members} | ${r.frames_per_s} | ${r.seconds} | ${r.speed_up ?? ''} |`).join('\n') +
    '\n',
);
