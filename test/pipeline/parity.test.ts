import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readBundle } from '../../src/models/bundle.js';
import { openModelSet } from '../../src/models/model-set.js';
import { collectSink } from '../../src/sinks/collect-sink.js';
import { memorySource } from '../../src/sources/memory-source.js';
import { defaultTopology } from '../../src/topology/default-topology.js';
import { startTopology } from '../../src/topology/start-topology.js';
import { dot } from '../../src/tensor/vector.js';
import type { FrameRecord } from '../../src/record.js';
import { DEFAULT_BUNDLE, ROOT } from '../helpers/paths.js';

interface Reference {
  frames: {
    image_path: string;
    objects: { point: [number, number]; mask_area: number; embedding: number[]; crop_embedding: number[] }[];
  }[];
}

test("pipeline embeddings match the factory's PyTorch reference (cosine >= 0.9999), object-guided and crop", async (t) => {
  const ref = JSON.parse(await readFile(join(DEFAULT_BUNDLE, 'parity.json'), 'utf8')) as Reference;
  const models = await openModelSet(await readBundle(DEFAULT_BUNDLE));
  t.teardown(() => models.dispose());
  const records = async (): Promise<FrameRecord[]> =>
    Promise.all(
      ref.frames.map(async (f, i) => ({
        streamId: 'parity',
        frameId: String(i),
        timestamp: 0,
        receivedAt: performance.now(),
        origin: { kind: 'memory' } as const,
        payload: new Uint8Array(await readFile(join(ROOT, 'datasets/shapes-val', f.image_path))),
        prompts: f.objects.map((o) => ({ points: [o.point] as [number, number][], labels: [1 as const] })),
        timings: {},
      })),
    );
  const worst = { guided: 1, crop: 1 };
  let objects = 0;
  for (const embedder of ['object-guided', 'crop'] as const) {
    const sink = collectSink();
    const run = await startTopology(defaultTopology(DEFAULT_BUNDLE, { embedder, sam2: { mode: 'prompted' } }), {
      source: memorySource(await records()),
      models,
      extraSinks: [sink],
      log: () => {},
    });
    await run.done;
    sink.records.forEach((r, i) => {
      t.is(r.error, undefined);
      ref.frames[i]!.objects.forEach((o, j) => {
        const got = r.objects![j]!.embedding!;
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
  t.true(objects >= 40);
  t.true(worst.guided >= 0.9999);
  t.true(worst.crop >= 0.9999);
});
