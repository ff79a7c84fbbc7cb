// The cost of exactly-once delivery: a Kafka backfill of N frames through a broker, once with
// delivery: at-least-once and once with exactly-once, same bundle, topology and frames.
//   scripts/kafka/start-broker.sh 9092 &          (a local broker)
//   npm run -s build && node dist/bench/delivery-bench.js --brokers 127.0.0.1:9092 [--frames 100] [--prompted]
// Writes bench/results/delivery-cost.json (or --out) and prints a markdown table. Frames/s are
// counted from the first frame written to the moment the group's committed offsets reach the end
// of the input (so consumer-group join and model loading are left out; models load once).
import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { HEADERS } from '../src/kafka/kafka-message.js';
import { createBenchTopics, produceAll } from './bench-topics.js';
import { interiorPoint } from '../src/masks/interior-point.js';
import { readBundle } from '../src/models/bundle.js';
import { openModelSet, warmUp } from '../src/models/model-set.js';
import { readDataset } from '../src/sources/dataset-replay-source.js';
import { loadTopology } from '../src/topology/load-topology.js';
import { sessionOptionsOf, startTopology, supervisionOf, warmUpLimitsOf } from '../src/topology/start-topology.js';
import type { Topology } from '../src/topology/topology.js';

const { values: args } = parseArgs({
  options: {
    brokers: { type: 'string' },
    topology: { type: 'string', default: 'topologies/backfill.yaml' },
    dataset: { type: 'string', default: 'datasets/shapes-val' },
    frames: { type: 'string', default: '100' },
    partitions: { type: 'string', default: '4' },
    repeats: { type: 'string', default: '2' },
    prompted: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/delivery-cost.json' },
  },
});
if (!args.brokers) throw new Error('--brokers host:port is needed (a local broker: scripts/kafka/start-broker.sh)');
const brokers = args.brokers.split(',');
const frames = Number(args.frames);
const partitions = Number(args.partitions);
const repeats = Number(args.repeats);
const kafka = new Kafka({ clientId: 'delivery-bench', brokers, logLevel: logLevel.NOTHING });
const base = await loadTopology(args.topology!);
const models = await openModelSet(await readBundle(base.bundle), sessionOptionsOf(base), supervisionOf(base));
// Every call size the topology makes; box prompts too with --prompted.
await warmUp(models, { ...warmUpLimitsOf(base), boxPrompts: args.prompted || base.sam2.mode === 'prompted' });

// The input messages, made once: raw JPEG bytes with headers, keyed by frame (spread over the partitions).
const entries = (await readDataset(args.dataset!)).slice(0, frames);
const messages = await Promise.all(
  entries.map(async (e) => {
    const headers: Record<string, string> = { [HEADERS.contentType]: 'image/jpeg', [HEADERS.frameId]: `f${e.index}` };
    if (args.prompted) {
      const prompts = e.truth.filter((t) => t.mask).map((t) => ({ points: [interiorPoint(t.mask!)!], labels: [1] }));
      headers[HEADERS.prompts] = JSON.stringify(prompts);
    }
    return { key: `bench/f${e.index}`, value: await readFile(e.imagePath), headers };
  }),
);

async function committedToEnd(groupId: string, topic: string): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = new Map((offsets?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    return ends.every((p) => (committed.get(p.partition) ?? -1) >= Number(p.high));
  } finally {
    await admin.disconnect();
  }
}

async function once(
  delivery: Topology['delivery'],
  run: number,
): Promise<{ framesPerSecond: number; seconds: number; transactions?: number }> {
  const id = `${delivery}-${run}-${Date.now()}`;
  const names = { input: `bench-in-${id}`, objects: `bench-obj-${id}`, detections: `bench-det-${id}`, dlq: `bench-dlq-${id}` };
  await createBenchTopics(kafka, Object.values(names), partitions);
  await produceAll(kafka, names.input, messages);

  const sink = (content: string, topic: string) => ({
    kind: 'kafka' as const,
    brokers,
    content: content as 'objects',
    topic,
    clientId: 'ogclip',
  });
  const topo: Topology = {
    ...base,
    delivery,
    ...(args.prompted ? { sam2: { ...base.sam2, mode: 'prompted' as const } } : {}),
    source: { ...(base.source as Extract<Topology['source'], { kind: 'kafka' }>), brokers, topic: names.input, groupId: `bench-${id}` },
    sinks: [sink('objects', names.objects), sink('detections', names.detections), sink('dead-letters', names.dlq)],
    telemetry: {},
  } as Topology;
  let first: number | undefined;
  let done = 0;
  const running = await startTopology(topo, {
    models,
    log: () => {},
    onDone: () => {
      first ??= performance.now();
      done++;
    },
  });
  while (done < frames || !(await committedToEnd(`bench-${id}`, names.input))) await new Promise((r) => setTimeout(r, 100));
  const seconds = (performance.now() - first!) / 1000;
  const stats = (running.source as unknown as { stats: { transactions: number } }).stats;
  running.stop();
  await running.done;
  return { framesPerSecond: (frames - 1) / seconds, seconds, ...(delivery === 'exactly-once' ? { transactions: stats.transactions } : {}) };
}

const runs: Record<string, { framesPerSecond: number; seconds: number; transactions?: number }[]> = {
  'at-least-once': [],
  'exactly-once': [],
};
for (let r = 0; r < repeats; r++) {
  for (const delivery of ['at-least-once', 'exactly-once'] as const) {
    const result = await once(delivery, r);
    runs[delivery]!.push(result);
    process.stderr.write(`${delivery} run ${r + 1}: ${result.framesPerSecond.toFixed(2)} frames/s\n`);
  }
}
await models.dispose();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 100) / 100;
const summary = Object.fromEntries(
  Object.entries(runs).map(([k, v]) => [
    k,
    {
      median_frames_per_s: round(median(v.map((x) => x.framesPerSecond))),
      runs: v.map((x) => ({ ...x, framesPerSecond: round(x.framesPerSecond), seconds: round(x.seconds) })),
    },
  ]),
);
const alo = summary['at-least-once']!.median_frames_per_s;
const eos = summary['exactly-once']!.median_frames_per_s;
const result = {
  command: `node dist/bench/delivery-bench.js --brokers <broker> --frames ${frames} --partitions ${partitions} --repeats ${repeats}${args.prompted ? ' --prompted' : ''}`,
  date: new Date().toISOString(),
  machine: `${cpus().length} CPU cores; single-node local broker (scripts/kafka/start-broker.sh)`,
  bundle: `${models.bundle.manifest.name}@${models.bundle.manifest.version}`,
  topology: {
    file: args.topology,
    sam2: args.prompted ? 'prompted (one click per object)' : `${base.sam2.mode}, ${base.sam2.pointsPerSide} points per side`,
  },
  frames,
  partitions,
  ...summary,
  exactly_once_cost_percent: round((1 - eos / alo) * 100),
};
await writeFile(args.out!, JSON.stringify(result, null, 2) + '\n');
process.stdout.write(
  `| delivery | frames/s (median of ${repeats}) |\n|---|---|\n| at-least-once | ${alo} |\n| exactly-once | ${eos} |\n\nexactly-once costs ${result.exactly_once_cost_percent} %\n`,
);
