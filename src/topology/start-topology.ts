import { map, type OperatorFunction } from 'rxjs';
import { ConfigError } from '../errors.js';
import { readBundle } from '../models/bundle.js';
import { LabelSet } from '../models/label-set.js';
import { openModelSet, warmUp, type ModelSet, type WarmUpLimits } from '../models/model-set.js';
import type { SupervisionOptions } from '../models/inference-client.js';
import { poolSize } from '../models/inference-pool.js';
import type { SessionOptions } from '../models/session-options.js';
import { runPipeline, type RunningPipeline } from '../pipeline.js';
import { releaseIntermediates, type FrameRecord } from '../record.js';
import type { Sink } from '../sinks/sink.js';
import type { FrameSource } from '../sources/source.js';
import { decodeStage } from '../stages/decode.js';
import { sam2Stage } from '../stages/sam2.js';
import { similarityStage } from '../stages/similarity.js';
import { checkExactlyOnce, type OutputTransaction } from '../kafka/exactly-once-delivery.js';
import { followLabelControl } from '../kafka/label-control.js';
import { liveSource } from '../sources/live-source.js';
import { PipelineMetrics } from '../telemetry/pipeline-metrics.js';
import type { BuildContext, SinkComponent, SourceComponent } from './component.js';
import type { EmbedderComponent, EmbedderKind } from './embedders.js';
import { EMBEDDERS, SINKS, SOURCES } from './registry.js';
import type { SinkKind, SinkSpec, SourceKind, SourceSpec, Topology } from './topology.js';

export interface StartOptions {
  /** Replaces the topology's source (tests, `ogclip embed`). */
  readonly source?: FrameSource;
  readonly log?: (line: string) => void;
  readonly models?: ModelSet; // already opened (the caller keeps ownership)
  readonly onDone?: (r: FrameRecord) => void;
  /** Sinks added to the topology's own (already built; closed with the run). */
  readonly extraSinks?: readonly Sink[];
}

export interface StartedTopology extends RunningPipeline {
  readonly source: FrameSource;
  readonly models: ModelSet;
  readonly labels: LabelSet;
  readonly sinks: readonly Sink[];
}

export function sessionOptionsOf(t: Topology): SessionOptions {
  return {
    executionProviders: t.runtime.executionProviders.map((p) => (p === 'cpu' ? 'cpu' : { name: 'cuda', deviceId: t.runtime.cudaDeviceId })),
    intraOpNumThreads: t.runtime.intraOpNumThreads,
    interOpNumThreads: t.runtime.interOpNumThreads,
    graphOptimizationLevel: t.runtime.graphOptimizationLevel,
    enableCpuMemArena: true,
    spinning: t.runtime.spinning,
    batchShapes: t.runtime.batchShapes,
  };
}

/** Inference workers of a topology (`runtime.workers`, 0: from the cores and intraOpNumThreads). */
export function workersOf(t: Topology): number {
  return poolSize(t.runtime.workers, t.runtime.intraOpNumThreads);
}

/** The largest model calls a topology's stages make: what `warmUp` covers. */
export function warmUpLimitsOf(t: Topology): WarmUpLimits {
  return { framesPerCall: t.batching.maxSize, promptsPerCall: t.sam2.pointsPerBatch, boxPrompts: t.sam2.mode === 'prompted' };
}

export function supervisionOf(t: Topology): SupervisionOptions {
  return { requestTimeoutMs: t.runtime.requestTimeoutMs, maxConsecutiveRestarts: t.runtime.maxWorkerRestarts };
}

/**
 * The similarity stage of a topology: its `similarity` settings, with the logit scale of the
 * embedder's text space (the head's for object-guided, CLIP's for crop). The demo tuner
 * (bench/tune-automatic.ts) re-applies it to collected records, one similarity setting at a time.
 */
export function similarityStageOf(t: Topology, models: ModelSet, labels: LabelSet): OperatorFunction<FrameRecord, FrameRecord> {
  return similarityStage({
    labels,
    score: t.similarity.score,
    logitScale: embedder(t).logitScale(models),
    scoreThreshold: t.similarity.threshold,
    topK: t.similarity.topK,
    maskNmsThresh: t.similarity.maskNmsThresh,
  });
}

/** The model stages of a topology, in order, for an opened model set and label set. */
export function buildStages(t: Topology, models: ModelSet, labels: LabelSet): OperatorFunction<FrameRecord, FrameRecord>[] {
  const m = models.bundle.manifest;
  // As many batches in flight per model stage as there are workers to run them.
  const batch = { ...t.batching, concurrency: models.worker.size };
  const stages: OperatorFunction<FrameRecord, FrameRecord>[] = [
    decodeStage({
      ...t.decode,
      sam2: { size: m.sam2.input_size, ...models.sam2Norm },
      clip: { size: m.clip.image_size, ...models.clipNorm },
    }),
    sam2Stage({ model: models.sam2, mode: t.sam2.mode, automatic: t.sam2, batch }),
  ];
  stages.push(
    ...embedder(t).stages(models, batch),
    similarityStageOf(t, models, labels),
    // Sinks need the pixels and masks only: the model inputs go before the frame waits on them.
    map((r: FrameRecord) => {
      releaseIntermediates(r);
      return r;
    }),
  );
  return stages;
}

// The registries' entries are typed per kind; a spec's kind picks its entry (the correlation
// between the two is what the mapped types in registry.ts guarantee).
const embedder = (t: Topology): EmbedderComponent<EmbedderKind> => EMBEDDERS[t.embedder];
const sourceOf = (spec: SourceSpec) => SOURCES[spec.kind] as unknown as SourceComponent<SourceKind>;
const sinkOf = (spec: SinkSpec) => SINKS[spec.kind] as unknown as SinkComponent<SinkKind>;

/** Brokers of the label control topic: the Kafka source's, else the first Kafka sink's. */
function controlBrokers(t: Topology): string[] | undefined {
  if (t.source.kind === 'kafka') return t.source.brokers;
  return t.sinks.find((s) => s.kind === 'kafka')?.brokers;
}

/** Opens the bundle, builds the stages, source and sinks of a topology, and starts it. */
export async function startTopology(t: Topology, options: StartOptions = {}): Promise<StartedTopology> {
  checkExactlyOnce(t);
  const models = options.models ?? (await openModelSet(await readBundle(t.bundle), sessionOptionsOf(t), supervisionOf(t), workersOf(t)));
  const owned = !options.models;
  // Everything opened before the pipeline runs; closed again if a later step fails, so that a
  // sink that cannot start leaves no consumer or producer holding the process open.
  const opened: { close(): Promise<void> }[] = [];
  try {
    if (owned) await warmUp(models, warmUpLimitsOf(t));
    const labels = await LabelSet.create(models.clipText, t.labels.list ?? models.bundle.manifest.labels, t.labels.template);
    const stages = buildStages(t, models, labels);
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const metrics = new PipelineMetrics();
    const context: BuildContext = { topology: t, log, metrics };
    let source = options.source ?? (await sourceOf(t.source).create(t.source, context));
    if (t.mode === 'live' && !sourceOf(t.source).handlesLiveMode && !options.source)
      source = liveSource(source, t.live.stalenessMs, (_r, why) => metrics.dropped(why));
    if (!options.source) opened.push(source);
    let control: { close(): Promise<void> } | undefined;
    if (t.labels.controlTopic) {
      const brokers = controlBrokers(t);
      if (!brokers) throw new ConfigError('labels.controlTopic needs Kafka brokers: use a kafka source or a kafka sink');
      control = await followLabelControl({ brokers, topic: t.labels.controlTopic, labels, log });
      opened.push(control);
    }
    const frames = (source as { size?: number }).size;
    // Exactly-once: the Kafka sinks write into the transactions of the Kafka source that reads the frames.
    const transaction = (source as { transactions?: OutputTransaction }).transactions;
    if (t.delivery === 'exactly-once' && !transaction) {
      throw new ConfigError(
        `delivery: exactly-once needs the topology's own kafka source; ${source.name} cannot commit offsets in a transaction`,
      );
    }
    const sinks: Sink[] = [];
    for (const spec of t.sinks) {
      const sink = await sinkOf(spec).create(spec, {
        ...context,
        ...(frames === undefined ? {} : { frames }),
        ...(t.delivery === 'exactly-once' && transaction ? { transaction } : {}),
      });
      sinks.push(sink);
      opened.push(sink);
    }
    sinks.push(...(options.extraSinks ?? []));
    const m = models.bundle.manifest;
    const running = runPipeline({
      source,
      stages,
      sinks,
      context: { modelName: m.name, modelVersion: m.version },
      maxInFlight: t.maxInFlight,
      sinkBatch: { maxSize: 16, maxWaitMs: 20 },
      sinkRetry: { retries: 5, initialDelayMs: 100, maxDelayMs: 5000 },
      onDone: (r) => {
        metrics.frameDone(r);
        options.onDone?.(r);
      },
    });
    metrics.observe(
      () => running.gate.inFlight,
      () => (source as { stats?: { lag: Record<string, number> } }).stats?.lag ?? {},
      models.worker,
    );
    const done = running.done.finally(async () => {
      await control?.close();
      if (owned) await models.dispose();
    });
    return { ...running, done, source, models, labels, sinks };
  } catch (err) {
    await Promise.allSettled(opened.reverse().map((o) => o.close()));
    if (owned) await models.dispose();
    throw err;
  }
}
