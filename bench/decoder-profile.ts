// Where a SAM2 decoder call spends its time: onnxruntime's own profiler on one call of N
// one-click prompts (fed as the pipeline feeds them), kernel time summed per graph node.
//   node dist/bench/decoder-profile.js [--bundle models/ogclip-shapes-tiny] [--decoder file.onnx] [--prompts 64] [--runs 5]
// --decoder profiles another decoder file of the same format against the bundle's encoder (an
// older export, say: git show <commit>:models/ogclip-shapes-tiny/sam2/prompt_encoder_mask_decoder.onnx).
// Prints JSON: mean ms per call and the nodes that take the most kernel time.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { readBundle } from '../src/models/bundle.js';
import { defaultSessionOptions, sessionConfigEntries } from '../src/models/session-options.js';

const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string', default: 'models/ogclip-shapes-tiny' },
    decoder: { type: 'string' },
    prompts: { type: 'string', default: '64' },
    runs: { type: 'string', default: '5' },
    top: { type: 'string', default: '12' },
  },
});
const bundle = await readBundle(resolve(args.bundle!));
const m = bundle.manifest;
if (m.sam2.format !== 'onnx-community')
  throw new Error(`${args.bundle}: only onnx-community decoders are profiled here, not ${m.sam2.format}`);
const s = m.sam2.input_size;
const p = Number(args.prompts);
const runs = Number(args.runs);
const f32 = (dims: number[], fill: number) => new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(fill), dims);

const encoder = await ort.InferenceSession.create(bundle.file(m.sam2.encoder));
const embeddings = await encoder.run({ [encoder.inputNames[0]!]: f32([1, 3, s, s], 0.1) });
const dir = await mkdtemp(join(tmpdir(), 'ogclip-decoder-profile-'));
try {
  const decoderPath = args.decoder ? resolve(args.decoder) : bundle.file(m.sam2.decoder);
  // The pipeline's session options: onnxruntime's default threads, no spinning.
  const decoder = await ort.InferenceSession.create(decoderPath, {
    enableProfiling: true,
    profileFilePrefix: join(dir, 'decoder'),
    extra: sessionConfigEntries(defaultSessionOptions),
  });
  // Each click and SAM2's "not a point" pad (label -1), spread over the frame.
  const points = new Float32Array(p * 2 * 2);
  const labels = new BigInt64Array(p * 2).fill(-1n);
  for (let i = 0; i < p; i++) {
    points.set([((i % 8) + 0.5) * (s / 8), ((Math.floor(i / 8) % 8) + 0.5) * (s / 8)], i * 4);
    labels[i * 2] = 1n;
  }
  const feeds: Record<string, ort.Tensor> = {
    input_points: new ort.Tensor('float32', points, [1, p, 2, 2]),
    input_labels: new ort.Tensor('int64', labels, [1, p, 2]),
    input_boxes: f32([1, 0, 4], 0),
    ...embeddings,
  };
  await decoder.run(feeds); // first run at this shape: allocations, not measured below
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await decoder.run(feeds);
  const msPerCall = (performance.now() - t0) / runs;
  decoder.endProfiling();
  const file = (await readdir(dir)).find((f) => f.startsWith('decoder'));
  if (!file) throw new Error('onnxruntime wrote no profile');
  const events = JSON.parse(await readFile(join(dir, file), 'utf8')) as {
    cat: string;
    name: string;
    ts: number;
    dur: number;
    args?: { op_name?: string; output_type_shape?: unknown[] };
  }[];
  // The first run (set-up at this shape) is left out, as it is of ms_per_call.
  const modelRuns = events.filter((e) => e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const measuredFrom = modelRuns[1]?.ts ?? Infinity;
  const calls = modelRuns.length - 1;
  const nodes = new Map<string, { op: string; us: number; shape: string }>();
  let kernelUs = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < measuredFrom) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    const n = nodes.get(name) ?? { op: e.args?.op_name ?? '?', us: 0, shape: JSON.stringify(e.args?.output_type_shape?.[0] ?? '') };
    n.us += e.dur;
    kernelUs += e.dur;
    nodes.set(name, n);
  }
  const top = [...nodes.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, Number(args.top));
  const result = {
    command: `node dist/bench/decoder-profile.js ${process.argv.slice(2).join(' ')}`.trim(),
    decoder: args.decoder ?? `${args.bundle}/${m.sam2.decoder}`,
    prompts: p,
    ms_per_call: Number(msPerCall.toFixed(2)),
    kernel_ms_per_call: Number((kernelUs / 1000 / calls).toFixed(2)),
    top_nodes: top.map(([name, n]) => ({
      node: name,
      op: n.op,
      output: n.shape,
      ms_per_call: Number((n.us / 1000 / calls).toFixed(2)),
      share: Number((n.us / kernelUs).toFixed(3)),
    })),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  await decoder.release();
} finally {
  await encoder.release();
  await rm(dir, { recursive: true, force: true });
}
