// The bench's soak mode: one long run of a topology over a looped dataset, sampling the process's
// memory and the event loop's delay, to show that memory stays flat (no per-frame growth) where
// the throughput run is too short to tell.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ModelSet } from '../src/models/model-set.js';
import type { FrameRecord } from '../src/record.js';
import { jsonlSink } from '../src/sinks/jsonl-sink.js';
import type { Sink } from '../src/sinks/sink.js';
import { datasetReplaySource } from '../src/sources/dataset-replay-source.js';
import { startTopology } from '../src/topology/start-topology.js';
import type { Topology } from '../src/topology/topology.js';
import { leastSquaresSlope } from './least-squares.js';

export interface SoakSample {
  readonly frames: number;
  readonly seconds: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
  /** Event-loop delay since the previous sample. */
  readonly eventLoopP99Ms: number;
  readonly eventLoopMaxMs: number;
}

export interface SoakResult {
  readonly frames: number;
  readonly failed: number;
  readonly seconds: number;
  readonly samples: readonly SoakSample[];
  /** The sample the growth is measured from: the first after `warmupFrames`. */
  readonly rssAfterWarmupMb: number;
  readonly rssLastMb: number;
  readonly rssMaxMb: number;
  /** (last - after warm-up) / after warm-up. */
  readonly rssGrowth: number;
  /** Least-squares slope of RSS over the samples after warm-up, MB per 1,000 frames. */
  readonly rssSlopeMbPer1000Frames: number;
  readonly eventLoopP99MaxMs: number;
}

const mb = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));

/**
 * Runs `topology` (its own sinks replaced by a detections and a dead-letter JSONL file in a
 * temporary folder, as a run writes them, and a counter) over `frames` frames of the dataset,
 * looped, sampling every `sampleEvery` frames.
 */
export async function runSoak(options: {
  readonly topology: Topology;
  readonly models: ModelSet;
  readonly dataset: string;
  readonly frames: number;
  readonly sampleEvery: number;
  readonly warmupFrames: number;
  readonly log: (line: string) => void;
}): Promise<SoakResult> {
  const dir = await mkdtemp(join(tmpdir(), 'ogclip-soak-'));
  const loop = monitorEventLoopDelay({ resolution: 10 });
  try {
    const source = await datasetReplaySource({
      path: options.dataset,
      fps: 0,
      streamId: 'soak',
      limit: options.frames,
      loops: Math.ceil(options.frames / 300) + 1,
    });
    const samples: SoakSample[] = [];
    let done = 0;
    let failed = 0;
    const t0 = performance.now();
    loop.enable();
    const sample = () => {
      const m = process.memoryUsage();
      samples.push({
        frames: done,
        seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
        rssMb: mb(m.rss),
        heapUsedMb: mb(m.heapUsed),
        eventLoopP99Ms: Number((loop.percentile(99) / 1e6).toFixed(1)),
        eventLoopMaxMs: Number((loop.max / 1e6).toFixed(1)),
      });
      loop.reset();
    };
    const counter: Sink = {
      name: 'soak-counter',
      write: async (batch: readonly FrameRecord[]) => {
        for (const r of batch) {
          done++;
          if (r.error) failed++;
          if (done % options.sampleEvery === 0) {
            sample();
            const s = samples.at(-1)!;
            options.log(`${done} frames, RSS ${s.rssMb} MB, event loop p99 ${s.eventLoopP99Ms} ms`);
          }
        }
      },
      close: async () => {},
    };
    const sinks = [
      await jsonlSink('detections', join(dir, 'detections.jsonl')),
      await jsonlSink('dead-letters', join(dir, 'dead-letters.jsonl')),
      counter,
    ];
    const run = await startTopology(
      { ...options.topology, sinks: [] },
      { source, models: options.models, extraSinks: sinks, log: () => {} },
    );
    await run.done;
    if (done % options.sampleEvery !== 0) sample();
    const seconds = (performance.now() - t0) / 1000;
    const after = samples.filter((s) => s.frames >= options.warmupFrames);
    const base = after[0] ?? samples[0]!;
    const last = samples.at(-1)!;
    return {
      frames: done,
      failed,
      seconds: Number(seconds.toFixed(1)),
      samples,
      rssAfterWarmupMb: base.rssMb,
      rssLastMb: last.rssMb,
      rssMaxMb: Math.max(...samples.map((s) => s.rssMb)),
      rssGrowth: Number(((last.rssMb - base.rssMb) / base.rssMb).toFixed(4)),
      rssSlopeMbPer1000Frames: Number(
        (
          (leastSquaresSlope(
            after.map((s) => s.frames),
            after.map((s) => s.rssMb),
          ) || 0) * 1000
        ).toFixed(2),
      ),
      eventLoopP99MaxMs: Math.max(...samples.map((s) => s.eventLoopP99Ms)),
    };
  } finally {
    loop.disable();
    await rm(dir, { recursive: true, force: true });
  }
}
