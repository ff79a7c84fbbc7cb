import type { ExecutionContext } from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readBundle } from '../../src/models/bundle.js';
import { openModelSet } from '../../src/models/model-set.js';
import { collectSink } from '../../src/sinks/collect-sink.js';
import { memorySource } from '../../src/sources/memory-source.js';
import { defaultTopology } from '../../src/topology/default-topology.js';
import { startTopology } from '../../src/topology/start-topology.js';
import { dot } from '../../src/tensor/vector.js';
import { embeddingOf, type FrameRecord } from '../../src/record.js';
import type { Sam2Prompt } from '../../src/models/sam2.js';
import { ROOT } from './paths.js';

/** A bundle's parity.json: the factory's embeddings of a few frames, objects prompted by a click or a box. */
interface Reference {
  /** Folder the image paths are relative to, from the repository root; absent: the bundle folder. */
  dataset?: string;
  frames: {
    image_path: string;
    objects: {
      point?: [number, number];
      box?: [number, number, number, number];
      embedding: number[];
      crop_embedding: number[];
    }[];
  }[];
}

export interface ParityResult {
  objects: number;
  frames: number;
  worst: { guided: number; crop: number };
}

/**
 * Runs the bundle's parity frames through the pipeline (prompted SAM2, both embedders) and
 * returns the worst cosine between the pipeline's and the factory's embeddings.
 */
export async function pipelineParity(t: ExecutionContext, bundleDir: string): Promise<ParityResult> {
  const ref = JSON.parse(await readFile(join(bundleDir, 'parity.json'), 'utf8')) as Reference;
  const models = await openModelSet(await readBundle(bundleDir));
  t.teardown(() => models.dispose());
  const imageRoot = ref.dataset ? join(ROOT, ref.dataset) : bundleDir;
  const prompt = (o: Reference['frames'][number]['objects'][number]): Sam2Prompt =>
    o.box ? { box: o.box } : { points: [o.point!], labels: [1] };
  const records = async (): Promise<FrameRecord[]> =>
    Promise.all(
      ref.frames.map(async (f, i) => ({
        streamId: 'parity',
        frameId: String(i),
        timestamp: 0,
        receivedAt: performance.now(),
        origin: { kind: 'memory' } as const,
        payload: new Uint8Array(await readFile(join(imageRoot, f.image_path))),
        prompts: f.objects.map(prompt),
        timings: {},
      })),
    );
  const worst = { guided: 1, crop: 1 };
  let objects = 0;
  for (const embedder of ['object-guided', 'crop'] as const) {
    const sink = collectSink();
    const run = await startTopology(defaultTopology(bundleDir, { embedder, sam2: { mode: 'prompted' } }), {
      source: memorySource(await records()),
      models,
      extraSinks: [sink],
      log: () => {},
    });
    await run.done;
    t.is(sink.records.length, ref.frames.length);
    sink.records.forEach((r, i) => {
      t.is(r.error, undefined);
      ref.frames[i]!.objects.forEach((o, j) => {
        const got = embeddingOf(r.objects![j]!)!;
        const want = Float32Array.from(embedder === 'crop' ? o.crop_embedding : o.embedding);
        const cos = dot(got, want) / Math.sqrt(dot(want, want));
        if (embedder === 'crop') worst.crop = Math.min(worst.crop, cos);
        else {
          worst.guided = Math.min(worst.guided, cos);
          objects++;
        }
      });
    });
  }
  t.log(
    `${objects} objects in ${ref.frames.length} frames; worst cosine: object-guided ${worst.guided.toFixed(6)}, crop ${worst.crop.toFixed(6)}`,
  );
  return { objects, frames: ref.frames.length, worst };
}
