import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { retrievalScores } from '../eval/retrieval.js';
import { retrievalThroughIndex } from '../eval/retrieval-through-index.js';
import { indexSink } from '../index/index-sink.js';
import { objectKey } from '../index/index-row.js';
import { openObjectIndex } from '../index/object-index.js';
import { interiorPoint } from '../masks/interior-point.js';
import { readBundle } from '../models/bundle.js';
import { openModelSet, type ModelSet } from '../models/model-set.js';
import { embeddingOf, type FrameRecord, type GroundTruthObject } from '../record.js';
import type { Sam2Prompt } from '../models/sam2.js';
import { ConfigError } from '../errors.js';
import { modelInputs } from '../stages/decode.js';
import { collectSink } from '../sinks/collect-sink.js';
import { summarySink, type RunSummary } from '../sinks/summary-sink.js';
import { datasetReplaySource } from '../sources/dataset-replay-source.js';
import { l2normalise } from '../tensor/vector.js';
import { defaultTopology } from '../topology/default-topology.js';
import { loadTopology } from '../topology/load-topology.js';
import { sessionOptionsOf, startTopology, supervisionOf, workersOf } from '../topology/start-topology.js';
import type { Topology } from '../topology/topology.js';
import { DEFAULT_BUNDLE } from './cli-options.js';

/** How each ground-truth object is prompted: one click at its mask's deepest point, or its box. */
export type EvalPrompt = 'click' | 'box';
const EVAL_PROMPTS: readonly EvalPrompt[] = ['click', 'box'];

interface EvalOptions {
  bundle: string;
  prompt: EvalPrompt;
  topology?: string;
  limit: number;
  out?: string;
  detection: boolean;
  throughIndex?: string;
}

/** The prompt of one ground-truth object, or a message saying why it cannot be prompted that way. */
function promptOf(g: GroundTruthObject, kind: EvalPrompt): Sam2Prompt | string {
  if (kind === 'box') return { box: g.box };
  const point = g.mask ? interiorPoint(g.mask) : undefined;
  return point ? { points: [point], labels: [1] } : `object "${g.description}" has no mask to click in: use --prompt box`;
}

/** Object embeddings of every ground-truth object, each prompted by a click at its deepest point or by its box. */
async function promptedRun(
  t: Topology,
  models: ModelSet,
  dataset: string,
  limit: number,
  embedder: Topology['embedder'],
  prompt: EvalPrompt,
): Promise<FrameRecord[]> {
  const sink = collectSink();
  const source = await datasetReplaySource({
    path: dataset,
    fps: 0,
    streamId: 'eval',
    limit,
    loops: 1,
    promptsFor: (e) =>
      e.truth.map((g) => {
        const p = promptOf(g, prompt);
        if (typeof p === 'string') throw new ConfigError(`${e.imagePath}: ${p}`);
        return p;
      }),
  });
  const run = await startTopology(
    { ...t, embedder, sam2: { ...t.sam2, mode: 'prompted' }, sinks: [] },
    { source, models, extraSinks: [sink], log: () => {} },
  );
  await run.done;
  return sink.records;
}

/**
 * Retrieval through an object index: the prompted run's records are written by the index sink
 * (as a topology with `kind: index` would), then every similarity comes from the index's searches.
 */
async function indexedRetrieval(
  dir: string,
  models: ModelSet,
  embedder: Topology['embedder'],
  records: readonly FrameRecord[],
  truth: ReadonlyMap<string, number>,
  texts: readonly Float32Array[],
): Promise<ReturnType<typeof retrievalScores>> {
  const m = models.bundle.manifest;
  const spec = defaultTopology(models.bundle.dir, { sinks: [{ kind: 'index', path: dir }] }).sinks[0];
  if (spec?.kind !== 'index') throw new Error('eval --through-index: no index sink spec');
  // Captions are embedded without a template here (see `texts`), so the index records '{}'.
  const sink = await indexSink(spec, { modelName: m.name, modelVersion: m.version, embedder }, '{}');
  try {
    await sink.write(records, { modelName: m.name, modelVersion: m.version });
  } finally {
    await sink.close();
  }
  const index = await openObjectIndex(dir);
  try {
    return await retrievalThroughIndex(index, truth, texts);
  } finally {
    index.close();
  }
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description(
      'object retrieval R@K (object-guided vs masked-crop CLIP vs plain CLIP) and detection precision/recall, through this pipeline',
    )
    .argument('<dataset>', 'dataset folder with dataset.json (bbox, description and, to click, mask per object)')
    .option('--bundle <dir>', 'model bundle folder', DEFAULT_BUNDLE)
    .option('--topology <yaml>', 'take sam2/similarity settings from this topology (detection part)')
    .addOption(
      new Option(
        '--prompt <kind>',
        "prompt each object by a click at its mask's deepest point, or by its box (as the model factory's user_build evaluates)",
      )
        .choices(EVAL_PROMPTS)
        .default('click'),
    )
    .option('--limit <n>', 'first n frames only (0: all)', (v) => Number.parseInt(v, 10), 0)
    .option('--out <json>', 'write the report here as well')
    .option('--no-detection', 'retrieval only (skip the automatic-mask detection run)')
    .option(
      '--through-index <dir>',
      "also compute the retrieval figures of the first embedder through an object index: its objects upserted into <dir> by the index sink, every similarity from the index's caption searches",
    )
    .action(async (dataset: string, o: EvalOptions) => {
      const t = o.topology ? await loadTopology(o.topology) : defaultTopology(resolve(o.bundle));
      const models = await openModelSet(
        await readBundle(o.topology ? t.bundle : resolve(o.bundle)),
        sessionOptionsOf(t),
        supervisionOf(t),
        workersOf(t),
      );
      try {
        const labels = models.bundle.manifest.labels;
        const texts = (await models.clipText.embed(labels)).map(l2normalise);
        const index = new Map(labels.map((l, i) => [l, i]));
        const retrieval: Record<string, ReturnType<typeof retrievalScores>> = {};
        let throughIndex: Record<string, unknown> | undefined;
        const embedders: Topology['embedder'][] = models.head ? ['object-guided', 'crop'] : ['crop'];
        const m = models.bundle.manifest;
        const inputs = { sam2: { size: m.sam2.input_size, ...models.sam2Norm }, clip: { size: m.clip.image_size, ...models.clipNorm } };
        for (const embedder of embedders) {
          const records = await promptedRun(t, models, resolve(dataset), o.limit, embedder, o.prompt);
          const objs: Float32Array[] = [];
          const plain: Float32Array[] = [];
          const truth: number[] = [];
          const keyed = new Map<string, number>(); // object key -> caption, for --through-index
          for (const r of records) {
            const { objects: found, groundTruth, image } = r;
            if (r.error || !found || !groundTruth || !image) continue;
            // Plain CLIP (computed once, in the crop pass): the whole frame's embedding stands
            // for each of its objects. The model inputs were released after the stages, so they
            // are made again from the pixels, by the decode stage's own definition.
            const frame = embedder === 'crop' ? (await models.clipVision.embed([modelInputs(image.rgb, inputs).clipInput]))[0] : undefined;
            found.forEach((obj, i) => {
              // One prompt per ground-truth object, so the i-th object is the i-th truth.
              const gt = groundTruth[i];
              const label = gt && index.get(gt.description);
              const embedding = embeddingOf(obj);
              if (label === undefined || !embedding) return;
              objs.push(embedding);
              truth.push(label);
              keyed.set(objectKey(r, m.version, obj.index), label);
              if (frame) plain.push(l2normalise(frame.embeds));
            });
          }
          retrieval[embedder === 'crop' ? 'crop_clip' : 'object_guided'] = retrievalScores(objs, truth, texts);
          if (embedder === 'crop') retrieval.plain_clip = retrievalScores(plain, truth, texts);
          if (o.throughIndex && embedder === embedders[0]) {
            const name = embedder === 'crop' ? 'crop_clip' : 'object_guided';
            throughIndex = {
              [name]: await indexedRetrieval(resolve(o.throughIndex), models, embedder, records, keyed, texts),
              index: resolve(o.throughIndex),
            };
          }
        }
        let detection: Record<string, unknown> | undefined;
        if (o.detection) {
          const sink = await summarySink(undefined);
          const source = await datasetReplaySource({ path: resolve(dataset), fps: 0, streamId: 'eval', limit: o.limit, loops: 1 });
          const run = await startTopology({ ...t, sinks: [] }, { source, models, extraSinks: [sink], log: () => {} });
          await run.done;
          const det: RunSummary = sink.summary();
          detection = {
            precision: det.precision,
            recall: det.recall,
            frames: det.frames,
            detections: det.detections,
            frames_per_second: det.frames_per_second,
            sam2: t.sam2,
            similarity: t.similarity,
          };
        }
        const report = {
          dataset: resolve(dataset),
          bundle: models.modelVersion,
          protocol: `retrieval: ${o.prompt === 'click' ? 'one click per ground-truth object at its deepest point (as training/ogclip_factory/evaluate.py)' : 'each ground-truth object prompted by its box (as training/ogclip_factory/user_eval.py)'}; ties count against the query; t2i also reports mAP and R-precision; detection: automatic masks, correct = mask IoU >= 0.5 with a ground-truth object and its label`,
          retrieval,
          ...(throughIndex ? { retrieval_through_index: throughIndex } : {}),
          ...(detection ? { detection } : {}),
        };
        const text = JSON.stringify(report, null, 2);
        process.stdout.write(text + '\n');
        if (o.out) {
          await mkdir(dirname(resolve(o.out)), { recursive: true });
          await writeFile(o.out, text + '\n');
        }
      } finally {
        await models.dispose();
      }
    });
}
