// The object index at scale: N synthetic objects of D dimensions written through the index sink's
// writer (merge-inserts of whole frames), the IVF-PQ index built by its maintenance, then
// held-out queries searched through ObjectIndex.search (ANN + refine) against an exact scan of
// the same vectors in this process: recall@k, latency percentiles, build time and disk size.
//
//   npm run -s build && node dist/bench/index-bench.js --objects 1000000 --out bench/results/index-1m-512.json
//
// The vectors are synthetic: unit vectors around a two-level hierarchy of concepts (topics, and
// sub-concepts around each topic), which is how CLIP embeddings of objects bunch up. Uniform random
// vectors in 512 dimensions would have no near neighbours at all (every pair nearly orthogonal),
// which no ANN index is built for.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IndexWriter } from '../src/index/index-writer.js';
import type { IndexBatch, IndexRow } from '../src/index/index-row.js';
import { openObjectIndex } from '../src/index/object-index.js';

const { values: a } = parseArgs({
  options: {
    objects: { type: 'string', default: '1000000' },
    dim: { type: 'string', default: '512' },
    topics: { type: 'string', default: '200' },
    concepts: { type: 'string', default: '20' }, // per topic
    queries: { type: 'string', default: '200' },
    k: { type: 'string', default: '10' },
    'frames-per-write': { type: 'string', default: '2000' },
    'objects-per-frame': { type: 'string', default: '5' },
    partitions: { type: 'string', default: '0' }, // 0: LanceDB's default (sqrt of rows)
    'sub-vectors': { type: 'string', default: '0' }, // 0: LanceDB's default (dim / 16)
    settings: { type: 'string', default: '10x1,20x5,20x10,40x10' }, // nprobes x refineFactor
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    // With --dir of an earlier run of the same --objects: its table, IVF-PQ index and exact
    // answers are used again (the vectors are regenerated from the same seed), so that query
    // settings can be compared without writing and building again.
    reuse: { type: 'boolean', default: false },
    // With --reuse: build the IVF-PQ index again with --partitions / --sub-vectors (timed).
    rebuild: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const N = Number(a.objects);
const D = Number(a.dim);
const K = Number(a.k);
const Q = Number(a.queries);
const perFrame = Number(a['objects-per-frame']);
const framesPerWrite = Number(a['frames-per-write']);

/** Deterministic numbers (mulberry32) and standard normals from them (Box-Muller). */
let state = 12345;
const uniform = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const normal = () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
function unit(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}
const around = (centre: Float32Array, spread: number) => unit(centre.map((c) => c + spread * normal()));

// Topic centres are random directions; a concept lies around its topic, an object around its concept.
const topics = Array.from({ length: Number(a.topics) }, () => unit(Float32Array.from({ length: D }, normal)));
const concepts = topics.flatMap((t) => Array.from({ length: Number(a.concepts) }, () => around(t, 0.05)));
const sample = () => around(concepts[Math.floor(uniform() * concepts.length)]!, 0.04);

function row(i: number, v: Float32Array): IndexRow {
  const frame = Math.floor(i / perFrame);
  return {
    key: `bench/${frame}/1/${i % perFrame}`,
    frame_key: `bench/${frame}/1`,
    stream_id: `camera-${frame % 8}`,
    frame_id: String(frame),
    timestamp: BigInt(1_700_000_000_000 + frame * 100),
    object_id: i % perFrame,
    width: 640,
    height: 480,
    box: [10, 20, 110, 140],
    mask: { size: [480, 640], counts: [12810, 100, 540, 100, 290000] },
    score: 0.9,
    embedding: Array.from(v),
    labels: [{ label: 'a synthetic object', score: 0.5 }],
    top_label: 'a synthetic object',
    top_score: 0.5,
    model: 'bench@1',
    origin_kind: 'memory',
    origin_path: null,
    origin_index: null,
    origin_topic: null,
    origin_partition: null,
    origin_offset: null,
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
const round = (x: number, d = 2) => Number(x.toFixed(d));

async function main() {
  const dir = a.dir ?? (await mkdtemp(join(tmpdir(), 'ogclip-index-bench-')));
  const location = { uri: join(dir, 'index') };
  const vectors = new Float32Array(N * D); // every indexed vector, for the exact scan
  const reuse = a.reuse && a.dir !== undefined;
  const writer = await IndexWriter.open({
    location,
    identity: { modelName: 'bench', modelVersion: '1', embedder: 'object-guided' },
    labelTemplate: '{}',
    ann: {
      minRows: N,
      numPartitions: Number(a.partitions),
      numSubVectors: Number(a['sub-vectors']),
      numBits: 8,
      nprobes: 20,
      refineFactor: 10,
    },
    optimizeEveryRows: 0,
    log: (line) => console.error(line),
  });
  const t0 = performance.now();
  if (reuse) for (let i = 0; i < N; i++) vectors.set(sample(), i * D); // the same draws as the run that wrote them
  for (let start = 0; start < (reuse ? 0 : N); start += framesPerWrite * perFrame) {
    const batch: IndexBatch = { frameKeys: [], rows: [] };
    for (let i = start; i < Math.min(N, start + framesPerWrite * perFrame); i++) {
      const v = sample();
      vectors.set(v, i * D);
      const r = row(i, v);
      if (r.object_id === 0) batch.frameKeys.push(r.frame_key);
      batch.rows.push(r);
    }
    await writer.write(batch);
    if ((start / (framesPerWrite * perFrame)) % 10 === 0) console.error(`written ${start + batch.rows.length} of ${N}`);
  }
  const writeS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  if (!reuse)
    await writer.maintain(); // compaction, B-tree key indexes, IVF-PQ over all N rows
  else if (a.rebuild) await writer.buildAnn(); // the same rows, the IVF-PQ index with these settings
  const buildS = (performance.now() - t1) / 1000;
  await writer.close();
  const diskMb = Number(execFileSync('du', ['-sk', location.uri], { encoding: 'utf8' }).split('\t')[0]) / 1024;
  console.error(`written in ${writeS.toFixed(0)} s, maintenance with the IVF-PQ build ${buildS.toFixed(0)} s, ${diskMb.toFixed(0)} MB`);

  // Held-out queries from the same distribution, and their exact top k by a full scan (kept
  // beside the index for --reuse).
  const queries = Array.from({ length: Q }, sample);
  const exactMs: number[] = [];
  const truthFile = join(dir, `exact-${N}-${Q}-${K}.json`);
  const saved = reuse ? ((await readFile(truthFile, 'utf8').then(JSON.parse, () => undefined)) as string[][] | undefined) : undefined;
  const truth =
    saved?.map((keys) => new Set(keys)) ??
    queries.map((q) => {
      const s = performance.now();
      const best: { i: number; score: number }[] = [];
      for (let i = 0; i < N; i++) {
        let dot = 0;
        const o = i * D;
        for (let d = 0; d < D; d++) dot += q[d]! * vectors[o + d]!;
        if (best.length < K || dot > best[best.length - 1]!.score) {
          best.push({ i, score: dot });
          best.sort((x, y) => y.score - x.score);
          if (best.length > K) best.pop();
        }
      }
      exactMs.push(performance.now() - s);
      return new Set(best.map((b) => `bench/${Math.floor(b.i / perFrame)}/1/${b.i % perFrame}`));
    });
  if (!saved) await writeFile(truthFile, JSON.stringify(truth.map((keys) => [...keys])));

  const index = await openObjectIndex(location);
  const results = [];
  try {
    for (const setting of a.settings!.split(',')) {
      const [nprobes, refineFactor] = setting.split('x').map(Number) as [number, number];
      for (const q of queries.slice(0, 10)) await index.search(q, {}, K, { nprobes, refineFactor }); // warm-up
      const ms: number[] = [];
      let found = 0;
      for (const [n, q] of queries.entries()) {
        const s = performance.now();
        const hits = await index.search(q, {}, K, { nprobes, refineFactor });
        ms.push(performance.now() - s);
        found += hits.filter((h) => truth[n]!.has(h.key)).length;
      }
      ms.sort((x, y) => x - y);
      const r = {
        nprobes,
        refineFactor,
        recall_at_k: round(found / (Q * K), 4),
        p50_ms: round(percentile(ms, 0.5)),
        p95_ms: round(percentile(ms, 0.95)),
        p99_ms: round(percentile(ms, 0.99)),
      };
      console.error(JSON.stringify(r));
      results.push(r);
    }
  } finally {
    index.close();
  }
  exactMs.sort((x, y) => x - y);
  const report = {
    command: `node dist/bench/index-bench.js ${process.argv.slice(2).join(' ')}`.trim(),
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown' },
    objects: N,
    dim: D,
    ann_settings: {
      partitions: Number(a.partitions) || 'LanceDB default (sqrt of rows)',
      sub_vectors: Number(a['sub-vectors']) || 'LanceDB default (dim / 16)',
      bits: 8,
    },
    distribution: `${a.topics} topics x ${a.concepts} concepts, unit vectors (concept spread 0.05, object spread 0.04 per dimension)`,
    queries: Q,
    k: K,
    ...(reuse
      ? a.rebuild
        ? { ann_build: { seconds: round(buildS, 1), what: 'IVF-PQ (cosine) built again over the reused rows' } }
        : {}
      : {
          write: { seconds: round(writeS, 1), objects_per_second: Math.round(N / writeS), objects_per_write: framesPerWrite * perFrame },
          ann_build: {
            seconds: round(buildS, 1),
            what: 'maintenance: compaction, B-tree indexes on key and frame_key, IVF-PQ (cosine) over all rows',
          },
        }),
    disk_mb: round(diskMb, 0),
    ...(exactMs.length
      ? { exact_scan_in_process_ms: { p50: round(percentile(exactMs, 0.5)), p99: round(percentile(exactMs, 0.99)) } }
      : {}),
    ...(reuse
      ? {
          reused: `the table and exact answers of an earlier run with --dir${a.rebuild ? '; the IVF-PQ index built again here' : ', and its IVF-PQ index'} (the write figures are that run's)`,
        }
      : {}),
    ann: results,
  };
  if (a.out) await writeFile(a.out, JSON.stringify(report, null, 2) + '\n');
  console.log(JSON.stringify(report, null, 2));
  if (!a.keep && !a.dir) await rm(dir, { recursive: true, force: true });
}

await main();
