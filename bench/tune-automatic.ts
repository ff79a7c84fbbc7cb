// Grid search of a topology's five detection filters on a development split with ground truth,
// scored exactly as the summary sink scores a run (mask IoU >= 0.5 and the right label).
//   npm run tune:demo        (= scripts/tune-demo.sh: generates the split, builds, runs this, writes
//                             topologies/demo.tuning.json and the choice into topologies/demo.yaml)
//   node dist/bench/tune-automatic.js <topology.yaml> <dataset> [--out tuning.json] [--apply]
//
// The masks (objects) depend only on the three sam2 settings; the two similarity settings only
// choose among the objects' labels and masks. So the pipeline runs once per sam2 point with its
// records collected, and the topology's own similarity stage (similarityStageOf) is re-applied to
// those records for each similarity point, each result going through a fresh summary sink. Every
// run checks that the re-application reproduces the pipeline's own summary for the setting it ran
// with, and stops if it does not.
//
// Refuses a dataset with seeds outside 3,000,000..3,999,999: tune on the development split, never on
// datasets/shapes-val (seeds 1,000,000..1,000,299), which is where the demo's figures are reported.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { from, lastValueFrom, toArray } from 'rxjs';
import { parseDocument } from 'yaml';
import { readBundle } from '../src/models/bundle.js';
import type { LabelSet } from '../src/models/label-set.js';
import { openModelSet } from '../src/models/model-set.js';
import type { FrameRecord } from '../src/record.js';
import { collectSink } from '../src/sinks/collect-sink.js';
import type { SinkContext } from '../src/sinks/sink.js';
import { summarySink, type RunSummary } from '../src/sinks/summary-sink.js';
import { datasetReplaySource } from '../src/sources/dataset-replay-source.js';
import { loadTopology } from '../src/topology/load-topology.js';
import { sessionOptionsOf, similarityStageOf, startTopology } from '../src/topology/start-topology.js';
import type { Topology } from '../src/topology/topology.js';
import {
  DEMO_GRID,
  DEV_END_SEED,
  DEV_FIRST_SEED,
  SELECTION_RULE,
  f1Of,
  sam2Settings,
  selectBest,
  similaritySettings,
  weightsHash,
  type GridPoint,
  type TuningFile,
} from './tuning.js';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: 'string' },
    apply: { type: 'boolean', default: false }, // write the choice into the topology file
    command: { type: 'string' }, // how this run was started, for the record
    generate: { type: 'string' }, // how the split was generated, for the record
  },
});
const [topologyPath, dataset] = positionals;
if (!topologyPath || !dataset) {
  process.stderr.write('usage: node dist/bench/tune-automatic.js <topology.yaml> <dataset> [--out tuning.json] [--apply]\n');
  process.exit(2);
}

const root = process.cwd();
const started = performance.now();
const elapsed = (): string => {
  const s = Math.round((performance.now() - started) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};
const log = (line: string): void => void process.stderr.write(`[${elapsed()}] ${line}\n`);

/** The split's seeds: contiguous, all on the development side. */
async function readSplit(dir: string): Promise<{ first_seed: number; count: number; dataset_sha256: string }> {
  const text = await readFile(join(dir, 'dataset.json'), 'utf8');
  const images = (JSON.parse(text) as { images: { seed?: unknown }[] }).images;
  const seeds = images.map((im, i) => {
    if (typeof im.seed !== 'number') throw new Error(`${dir}: images[${i}] has no seed (generate it with ogclip_factory.dataset)`);
    return im.seed;
  });
  if (!seeds.length) throw new Error(`${dir}: no images`);
  const first = seeds[0]!;
  if (seeds.some((s, i) => s !== first + i)) throw new Error(`${dir}: seeds are not contiguous from ${first}`);
  if (first < DEV_FIRST_SEED || first + seeds.length > DEV_END_SEED)
    throw new Error(
      `${dir}: seeds ${first}..${first + seeds.length - 1}: tune on the development split (seeds ${DEV_FIRST_SEED}..${DEV_END_SEED - 1}), ` +
        'never on validation frames',
    );
  return { first_seed: first, count: seeds.length, dataset_sha256: createHash('sha256').update(text).digest('hex') };
}

/** JSON with one line per grid point and per run, so that a diff of the file shows what moved. */
function formatTuning(r: TuningFile): string {
  const compact = new Set(['grid', 'runs']);
  const fields = Object.entries(r).map(([k, v]) => {
    if (compact.has(k) && Array.isArray(v)) return `  "${k}": [\n${v.map((e) => `    ${JSON.stringify(e)}`).join(',\n')}\n  ]`;
    if (k === 'grid_spec') return `  "${k}": ${JSON.stringify(v)}`;
    return `  "${k}": ${JSON.stringify(v, null, 2).replace(/\n/g, '\n  ')}`;
  });
  return `{\n${fields.join(',\n')}\n}\n`;
}

const base = await loadTopology(topologyPath);
const split = await readSplit(resolve(dataset));
const models = await openModelSet(await readBundle(base.bundle), sessionOptionsOf(base));
const m = models.bundle.manifest;
const ctx: SinkContext = { modelName: m.name, modelVersion: m.version };
const sam2Grid = sam2Settings(DEMO_GRID);
const simGrid = similaritySettings(DEMO_GRID);
log(
  `${models.modelVersion} on seeds ${split.first_seed}..${split.first_seed + split.count - 1}: ` +
    `${sam2Grid.length} pipeline runs x ${simGrid.length} similarity settings = ${sam2Grid.length * simGrid.length} grid points`,
);

/** Precision and recall of the records under one similarity setting, by a fresh summary sink. */
async function score(t: Topology, records: FrameRecord[], labels: LabelSet): Promise<RunSummary> {
  const out = await lastValueFrom(from(records).pipe(similarityStageOf(t, models, labels), toArray()));
  const sink = await summarySink(undefined);
  await sink.write(out, ctx);
  await sink.close();
  return sink.summary();
}

const grid: GridPoint[] = [];
const runs: TuningFile['runs'][number][] = [];
try {
  for (const [i, sam2] of sam2Grid.entries()) {
    const t: Topology = {
      ...base,
      sam2: { ...base.sam2, ...sam2 },
      similarity: { ...base.similarity, ...simGrid[0]! },
      sinks: [],
    };
    const t0 = performance.now();
    const collect = collectSink();
    const inPipeline = await summarySink(undefined);
    const source = await datasetReplaySource({ path: resolve(dataset), fps: 0, streamId: 'tune', limit: 0, loops: 1 });
    const run = await startTopology(t, { source, models, extraSinks: [collect, inPipeline], log: () => {} });
    await run.done;
    const seconds = (performance.now() - t0) / 1000;
    const records = collect.records;
    const own = inPipeline.summary();
    runs.push({ sam2, seconds: Number(seconds.toFixed(1)), frames: own.frames, objects: own.objects, dead_letters: own.dead_letters });
    for (const sim of simGrid) {
      const tt: Topology = { ...t, similarity: { ...t.similarity, ...sim } };
      const s = await score(tt, records, run.labels);
      if (sim === simGrid[0] && (s.precision !== own.precision || s.recall !== own.recall || s.detections !== own.detections)) {
        throw new Error(
          `re-applying the similarity stage to collected records does not reproduce the pipeline's summary ` +
            `(${JSON.stringify({ pipeline: [own.precision, own.recall, own.detections], offline: [s.precision, s.recall, s.detections] })}); ` +
            'tune with full pipeline runs instead',
        );
      }
      const precision = s.precision ?? 0;
      const recall = s.recall ?? 0;
      grid.push({ index: grid.length, sam2, similarity: sim, precision, recall, f1: f1Of(precision, recall), detections: s.detections });
    }
    const best = selectBest(grid);
    log(
      `run ${i + 1}/${sam2Grid.length} ${JSON.stringify(sam2)}: ${own.frames} frames in ${seconds.toFixed(1)} s, ` +
        `${(own.objects / Math.max(1, own.frames)).toFixed(2)} objects/frame, ${own.dead_letters} dead letters; ` +
        `best so far #${best.index} F1 ${best.f1.toFixed(4)} (P ${best.precision.toFixed(4)} R ${best.recall.toFixed(4)})`,
    );
  }
} finally {
  await models.dispose();
}

const choice = selectBest(grid);
const { predIouThresh: _p, stabilityScoreThresh: _s, boxNmsThresh: _b, ...fixedSam2 } = base.sam2;
const { threshold: _t, maskNmsThresh: _n, ...fixedSimilarity } = base.similarity;
const topologyRel = relative(root, resolve(topologyPath));
const result: TuningFile = {
  command: args.command ?? `node dist/bench/tune-automatic.js ${process.argv.slice(2).join(' ')}`,
  steps: [
    args.generate ?? `(dataset ${dataset})`,
    `node dist/bench/tune-automatic.js ${topologyRel} <split>${args.out ? ` --out ${relative(root, resolve(args.out))}` : ''}${args.apply ? ' --apply' : ''}`,
  ],
  date: new Date().toISOString(),
  seconds: Math.round((performance.now() - started) / 1000),
  topology: topologyRel,
  split: {
    first_seed: split.first_seed,
    count: split.count,
    generator: `python -m ogclip_factory.dataset --first-seed ${split.first_seed} --count ${split.count} (training/)`,
    dataset_sha256: split.dataset_sha256,
  },
  bundle: { path: relative(root, base.bundle), model: models.modelVersion, weights_sha256: await weightsHash(base.bundle) },
  fixed: { embedder: base.embedder, sam2: fixedSam2, similarity: fixedSimilarity, batching: base.batching },
  scoring:
    "as the summary sink (src/sinks/summary-sink.ts): a detection is correct when its mask IoU with a not-yet-matched ground-truth object is >= 0.5 and its label is that object's description; precision = correct / detections, recall = correct / ground-truth objects, over the whole split",
  method:
    "one pipeline run per sam2 point with the records collected; the topology's similarity stage (similarityStageOf) re-applied to those records for each similarity point and scored by a fresh summary sink (checked against the pipeline's own summary for the setting each run used)",
  selection_rule: SELECTION_RULE,
  grid_spec: DEMO_GRID,
  runs,
  grid,
  choice,
};
if (args.out) {
  await writeFile(args.out, formatTuning(result));
  log(`wrote ${args.out}`);
}
if (args.apply) {
  const doc = parseDocument(await readFile(topologyPath, 'utf8'));
  for (const [k, v] of Object.entries(choice.sam2)) doc.setIn(['sam2', k], v);
  for (const [k, v] of Object.entries(choice.similarity)) doc.setIn(['similarity', k], v);
  await writeFile(topologyPath, doc.toString({ lineWidth: 0 }));
  log(`wrote the choice into ${topologyPath}`);
}
log(
  `choice #${choice.index}: ${JSON.stringify({ sam2: choice.sam2, similarity: choice.similarity })} ` +
    `precision ${choice.precision.toFixed(4)} recall ${choice.recall.toFixed(4)} F1 ${choice.f1.toFixed(4)}`,
);
