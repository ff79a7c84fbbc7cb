// Pipeline speed beside the raw onnxruntime session times, measured in the same run.
//   npm run bench                     (embedded default bundle, demo topology)
//   node dist/bench/pipeline-bench.js --bundle bench/models/public-real-size --embedder crop --frames 3 --points-per-side 4
//   node dist/bench/pipeline-bench.js --soak-frames 10000          (soak mode: memory over a long run)
//   node dist/bench/pipeline-bench.js --execution-provider cuda    (on a CUDA machine: scripts/bench-gpu.sh)
// Writes bench/results/<bundle name>.json (soak: <bundle name>-soak-<frames>.json).
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { readBundle } from '../src/models/bundle.js';
import type { Sam2Prompt } from '../src/models/sam2.js';
import { openModelSet, warmUp, type ModelSet } from '../src/models/model-set.js';
import type { FrameRecord, StageName } from '../src/record.js';
import { collectSink } from '../src/sinks/collect-sink.js';
import { datasetReplaySource } from '../src/sources/dataset-replay-source.js';
import { memorySource } from '../src/sources/memory-source.js';
import { defaultTopology } from '../src/topology/default-topology.js';
import { loadTopology } from '../src/topology/load-topology.js';
import { sessionOptionsOf, startTopology, supervisionOf, warmUpLimitsOf, workersOf } from '../src/topology/start-topology.js';
import type { Topology } from '../src/topology/topology.js';
import { leastSquaresSlope } from './least-squares.js';
import { runSoak } from './pipeline-soak.js';

const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string' },
    topology: { type: 'string', default: 'topologies/demo.yaml' },
    dataset: { type: 'string', default: 'datasets/shapes-val' },
    frames: { type: 'string', default: '100' },
    'points-per-side': { type: 'string' },
    embedder: { type: 'string' },
    repeats: { type: 'string', default: '5' },
    out: { type: 'string' },
    'soak-frames': { type: 'string' },
    'sample-every': { type: 'string', default: '250' },
    'execution-provider': { type: 'string', default: 'cpu' },
    threads: { type: 'string' }, // runtime.intraOpNumThreads
    workers: { type: 'string' }, // runtime.workers
    'batch-size': { type: 'string' }, // batching.maxSize (frames per encoder call, among others)
    spinning: { type: 'boolean', default: false }, // runtime.spinning
    'scaling-frames': { type: 'string', default: '12' },
    note: { type: 'string' }, // what the bundle is, recorded in the JSON
    'pipeline-runs': { type: 'string', default: '1' }, // pipeline runs over the frames; the median counts // frames per point of the objects-per-frame runs
  },
});
const provider = args['execution-provider'];
if (provider !== 'cpu' && provider !== 'cuda') throw new Error(`--execution-provider must be cpu or cuda, got ${provider}`);
const frames = Number(args.frames);
const scalingFrames = Number(args['scaling-frames']);
const repeats = Number(args.repeats);
let topo: Topology = await loadTopology(args.topology!);
if (args.bundle) topo = { ...topo, bundle: resolve(args.bundle) };
if (args.embedder) topo = { ...topo, embedder: args.embedder as Topology['embedder'] };
if (args['points-per-side']) topo = { ...topo, sam2: { ...topo.sam2, pointsPerSide: Number(args['points-per-side']) } };
if (args.threads) topo = { ...topo, runtime: { ...topo.runtime, intraOpNumThreads: Number(args.threads) } };
if (args.workers) topo = { ...topo, runtime: { ...topo.runtime, workers: Number(args.workers) } };
if (args.spinning) topo = { ...topo, runtime: { ...topo.runtime, spinning: true } };
if (args['batch-size']) topo = { ...topo, batching: { ...topo.batching, maxSize: Number(args['batch-size']) } };
if (provider === 'cuda') topo = { ...topo, runtime: { ...topo.runtime, executionProviders: ['cuda', 'cpu'] } };
const bundle = await readBundle(topo.bundle);
const m = bundle.manifest;

/**
 * Mean ms of `repeats` runs after one warm-up run (first runs at a new shape are slow). It waits
 * a moment first: the session timed before may still be spinning its threads (onnxruntime's
 * default here), which would slow this one down.
 */
async function time(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 250));
  await session.run(feeds);
  const t0 = performance.now();
  for (let i = 0; i < repeats; i++) await session.run(feeds);
  return (performance.now() - t0) / repeats;
}

const f32 = (dims: number[], fill = 0.1) => new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(fill), dims);
// onnxruntime's own defaults otherwise (its threads spin between runs, which helps a session
// run alone in a loop): the raw bound is the best these sessions do by themselves.
const opts: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: topo.runtime.intraOpNumThreads,
  interOpNumThreads: topo.runtime.interOpNumThreads,
  graphOptimizationLevel: topo.runtime.graphOptimizationLevel,
  executionProviders: provider === 'cuda' ? [{ name: 'cuda', deviceId: topo.runtime.cudaDeviceId }, 'cpu'] : ['cpu'],
};
const open = (rel: string) => ort.InferenceSession.create(bundle.file(rel), opts);

// Raw onnxruntime sessions, in this process, no pipeline around them.
const raw: Record<string, number> = {};
const s = m.sam2.input_size;
const grid = topo.sam2.pointsPerSide ** 2;
const perCall = Math.min(grid, topo.sam2.pointsPerBatch);
const enc = await open(m.sam2.encoder);
const encInput = enc.inputNames[0]!;
raw.sam2_encoder = await time(enc, { [encInput]: f32([1, 3, s, s]) });
const embOut = await enc.run({ [encInput]: f32([1, 3, s, s]) });
const dec = await open(m.sam2.decoder);
/** Raw decoder time for p one-click prompts, fed as the pipeline feeds them. */
const decode = async (p: number) => {
  // A decoder with input_boxes gets each click and a padding point (label -1) when no box is
  // given, as the pipeline's adapter sends it (src/models/sam2-onnx-community.ts).
  const n = dec.inputNames.includes('input_boxes') ? 2 : 1;
  const labels = new BigInt64Array(p * n).fill(-1n);
  for (let i = 0; i < p; i++) labels[i * n] = 1n;
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of dec.inputNames) {
    if (name === 'input_points') feeds[name] = f32([1, p, n, 2], s / 2);
    else if (name === 'input_labels') feeds[name] = new ort.Tensor('int64', labels, [1, p, n]);
    else if (name === 'input_boxes') feeds[name] = f32([1, 0, 4]);
    else feeds[name] = embOut[name]!;
  }
  return time(dec, feeds);
};
raw.sam2_decoder_1_prompt = await decode(1);
raw[`sam2_decoder_${perCall}_prompts`] = await decode(perCall);
{
  const vision = await open(m.clip.vision);
  raw.clip_vision_batch_1 = await time(vision, { pixel_values: f32([1, 3, m.clip.image_size, m.clip.image_size]) });
  raw.clip_vision_batch_8 = await time(vision, { pixel_values: f32([8, 3, m.clip.image_size, m.clip.image_size]) });
  if (m.head) {
    const h = m.head;
    const ob = await open(h.object_branch);
    const mb = await open(h.mask_branch);
    const fu = await open(h.fusion);
    const pr = await open(h.projection);
    const o = await ob.run({ object_pixels: f32([8, 3, h.object_size, h.object_size]) });
    const k = await mb.run({ object_mask: f32([8, 1, h.mask_size, h.mask_size]) });
    const v = await vision.run({ pixel_values: f32([1, 3, m.clip.image_size, m.clip.image_size]) });
    const [, tokens, dim] = v.last_hidden_state!.dims as number[];
    const clipDim = dim! + v.image_embeds!.dims[1]!;
    void tokens;
    const fused = await fu.run({ object_features: o.object_features!, mask_features: k.mask_features!, clip_features: f32([8, clipDim]) });
    raw.head_8_objects =
      (await time(ob, { object_pixels: f32([8, 3, h.object_size, h.object_size]) })) +
      (await time(mb, { object_mask: f32([8, 1, h.mask_size, h.mask_size]) })) +
      (await time(fu, { object_features: o.object_features!, mask_features: k.mask_features!, clip_features: f32([8, clipDim]) })) +
      (await time(pr, { fused: fused.fused! }));
  }
}

const models: ModelSet = await openModelSet(bundle, sessionOptionsOf(topo), supervisionOf(topo), workersOf(topo));
// As `ogclip run` does: every call size the runs below make, so that no frame pays a first run
// (box prompts too: the objects-per-frame runs use them).
await warmUp(models, { ...warmUpLimitsOf(topo), boxPrompts: true });
const machine = `${(await import('node:os')).cpus().length} CPU cores, onnxruntime-node ${ort.env.versions.node}, ${provider}`;
/** What every result file starts with: what ran, where, and the raw session times beside it. */
const header = () => ({
  bundle: `${m.name}@${m.version}`,
  command: `node dist/bench/pipeline-bench.js ${process.argv.slice(2).join(' ')}`.trim(),
  date: new Date().toISOString(),
  machine,
  topology: { name: topo.name, pointsPerSide: topo.sam2.pointsPerSide, embedder: topo.embedder },
  runtime: { intraOpNumThreads: topo.runtime.intraOpNumThreads, workers: models.worker.size, spinning: topo.runtime.spinning },
  batching: topo.batching,
  raw_session_ms: Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v.toFixed(2))])),
});

if (args['soak-frames']) {
  const frames = Number(args['soak-frames']);
  const sampleEvery = Number(args['sample-every']);
  const soak = await runSoak({
    topology: topo,
    models,
    dataset: resolve(args.dataset!),
    frames,
    sampleEvery,
    warmupFrames: Math.min(1000, Math.floor(frames / 10)),
    log: (line) => process.stderr.write(`soak: ${line}\n`),
  });
  await models.dispose();
  const result = { ...header(), soak };
  const out = args.out ?? `bench/results/${m.name}-soak-${frames}.json`;
  await mkdir(resolve(out, '..'), { recursive: true });
  await writeFile(out, JSON.stringify(result, null, 2) + '\n');
  const { samples: _samples, ...summary } = soak;
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  process.exit(0); // the raw sessions above hold no work; nothing else is left to measure
}
// Pipeline throughput on the topology (automatic masks), same models, same machine.
let sink = collectSink();
// Decoder prompts and calls of the pipeline run (the automatic generator's grid, after its
// coarse-to-fine skipping), counted at the model; the scaling runs below are not counted.
const decoder = { calls: 0, prompts: 0, counting: true, sizes: new Map<number, number>() };
const sam2Decode = models.sam2.decode.bind(models.sam2);
(models.sam2 as { decode: typeof sam2Decode }).decode = (embeddings, prompts, width, height) => {
  if (decoder.counting) {
    decoder.calls++;
    decoder.prompts += prompts.length;
    decoder.sizes.set(prompts.length, (decoder.sizes.get(prompts.length) ?? 0) + 1);
  }
  return sam2Decode(embeddings, prompts, width, height);
};
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
// Several runs show how much the machine varies; the median run is the one reported.
const runs: { seconds: number; frames: number }[] = [];
for (let i = 0; i < Number(args['pipeline-runs']); i++) {
  sink = collectSink();
  const source = await datasetReplaySource({
    path: resolve(args.dataset!),
    fps: 0,
    streamId: 'bench',
    limit: frames,
    loops: Math.ceil(frames / 300),
  });
  const t0 = performance.now();
  const run = await startTopology({ ...topo, sinks: [] }, { source, models, extraSinks: [sink], log: () => {} });
  await run.done;
  runs.push({ seconds: (performance.now() - t0) / 1000, frames: sink.records.length });
}
loop.disable();
decoder.counting = false;
const median = [...runs].sort((a, b) => a.seconds - b.seconds)[Math.floor((runs.length - 1) / 2)]!;
const seconds = median.seconds;
const decodedFrames = runs.reduce((n, r) => n + r.frames, 0);
// The decoder calls the run made, each at its raw time for its number of prompts.
let rawDecoderMs = 0;
for (const [p, calls] of decoder.sizes) rawDecoderMs += calls * (p === perCall ? raw[`sam2_decoder_${perCall}_prompts`]! : await decode(p));
const objectsPerFrame = sink.records.reduce((a, r) => a + (r.objects?.length ?? 0), 0) / Math.max(sink.records.length, 1);
// The embedder's models: the head needs CLIP vision once per frame and its four parts per
// object; the crop baseline runs CLIP vision on each object's crop and never on the frame.
const rawEmbedMs =
  topo.embedder === 'object-guided'
    ? raw.clip_vision_batch_1! + raw.head_8_objects! * (objectsPerFrame / 8)
    : raw.clip_vision_batch_8! * (objectsPerFrame / 8);
const rawPerFrame = raw.sam2_encoder! + rawDecoderMs / Math.max(decodedFrames, 1) + rawEmbedMs;
// With several workers, frames run side by side: the serial sum of session times is no bound.
const serial = models.worker.size === 1;
const pipelineMsPerFrame = (seconds * 1000) / median.frames;

// Latency against objects per frame: one frame, N box prompts, object-guided head vs masked-crop CLIP.
// Per frame, the whole pipeline's time and the embedder stages' own (their run time, from the
// records' timings): the masks cost the same for both embedders, the embedding is what differs.
const payload = sink.records[0]!.payload;
const EMBEDDER_STAGES: Record<Topology['embedder'], readonly StageName[]> = {
  'object-guided': ['branches', 'fusion', 'projection'],
  crop: ['embed'],
};
const scaling: Record<string, Record<string, number>> = {};
const OBJECT_COUNTS = [1, 8, 32];
for (const embedder of (m.head ? ['object-guided', 'crop'] : ['crop']) as Topology['embedder'][]) {
  scaling[embedder] = {};
  const perFrame: number[] = [];
  const embedderPerFrame: number[] = [];
  for (const n of OBJECT_COUNTS) {
    const side = Math.ceil(Math.sqrt(n));
    const w = sink.records[0]!.image?.rgb.width ?? s;
    const h = sink.records[0]!.image?.rgb.height ?? s;
    // N boxes, one in each cell of a grid: each gives an object (its mask, or the box itself when
    // the mask is empty), where clicks on background gave empty masks that no embedder works on.
    const prompts = Array.from({ length: n }, (_, i): Sam2Prompt => {
      const x = (i % side) * (w / side);
      const y = Math.floor(i / side) * (h / side);
      return { box: [x + 0.1 * (w / side), y + 0.1 * (h / side), x + 0.9 * (w / side), y + 0.9 * (h / side)] };
    });
    const recs: FrameRecord[] = Array.from({ length: scalingFrames }, (_, i) => ({
      streamId: 'scale',
      frameId: String(i),
      timestamp: 0,
      receivedAt: 0,
      origin: { kind: 'memory' as const },
      payload,
      prompts,
      timings: {},
    }));
    const c = collectSink();
    const t1 = performance.now();
    const r = await startTopology(
      // One frame in the pipeline at a time: latency, and stage times that are the stages' own
      // (with frames overlapping, a stage's time includes waiting behind the next frame's decoder calls).
      defaultTopology(topo.bundle, { embedder, maxInFlight: 1, sam2: { mode: 'prompted' }, batching: { maxSize: 1, maxWaitMs: 0 } }),
      { source: memorySource(recs), models, extraSinks: [c], log: () => {} },
    );
    await r.done;
    perFrame.push((performance.now() - t1) / recs.length);
    const stages = EMBEDDER_STAGES[embedder];
    embedderPerFrame.push(c.records.reduce((a, x) => a + stages.reduce((b, st) => b + (x.timings[st] ?? 0), 0), 0) / c.records.length);
    scaling[embedder]![`${n}_objects_ms_per_frame`] = Number(perFrame.at(-1)!.toFixed(1));
    scaling[embedder]![`${n}_objects_embedder_ms_per_frame`] = Number(embedderPerFrame.at(-1)!.toFixed(1));
  }
  // Marginal cost of one more object: least-squares slopes over the object counts.
  const embedderSlope = leastSquaresSlope(OBJECT_COUNTS, embedderPerFrame);
  scaling[embedder]!.ms_per_object = Number(leastSquaresSlope(OBJECT_COUNTS, perFrame).toFixed(2));
  scaling[embedder]!.embedder_ms_per_object = Number(embedderSlope.toFixed(2));
  // Against one CLIP vision forward alone (raw, in a batch of 8): the object-guided target is <= 0.10.
  scaling[embedder]!.embedder_per_object_vs_clip_forward = Number((embedderSlope / (raw.clip_vision_batch_8! / 8)).toFixed(3));
}
await models.dispose();

const result = {
  ...header(),
  pipeline: {
    frames: median.frames,
    seconds: Number(seconds.toFixed(2)),
    frames_per_second: Number((median.frames / seconds).toFixed(3)),
    runs_ms_per_frame: runs.map((r) => Number(((r.seconds * 1000) / r.frames).toFixed(1))),
    ms_per_frame: Number(pipelineMsPerFrame.toFixed(1)),
    objects_per_frame: Number(objectsPerFrame.toFixed(2)),
    decoder_prompts_per_frame: Number((decoder.prompts / Math.max(decodedFrames, 1)).toFixed(2)),
    decoder_calls_per_frame: Number((decoder.calls / Math.max(decodedFrames, 1)).toFixed(2)),
    raw_model_ms_per_frame: Number(rawPerFrame.toFixed(1)),
    overhead_vs_raw: serial ? Number((pipelineMsPerFrame / rawPerFrame - 1).toFixed(3)) : null,
    pipeline_vs_raw: serial ? Number((rawPerFrame / pipelineMsPerFrame).toFixed(3)) : null,
    event_loop_delay_p99_ms: Number((loop.percentile(99) / 1e6).toFixed(1)),
    event_loop_delay_max_ms: Number((loop.max / 1e6).toFixed(1)),
  },
  objects_per_frame_scaling: scaling,
  ...(args.note ? { note: args.note } : {}),
};
const out = args.out ?? `bench/results/${m.name}.json`;
await mkdir(resolve(out, '..'), { recursive: true });
await writeFile(out, JSON.stringify(result, null, 2) + '\n');
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
