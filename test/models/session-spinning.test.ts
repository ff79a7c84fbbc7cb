import test from 'ava';
import { readBundle } from '../../src/models/bundle.js';
import { InferenceClient } from '../../src/models/inference-client.js';
import { defaultTopology } from '../../src/topology/default-topology.js';
import { sessionOptionsOf } from '../../src/topology/start-topology.js';
import { DEFAULT_BUNDLE } from '../helpers/paths.js';

// onnxruntime's intra-op threads busy-wait after a run unless told not to. The pipeline runs
// several sessions in turn on the cores the event loop needs, so a topology's sessions must not
// spin: with spinning on, the 100 ms after each run below cost 40 to 45 ms of CPU (measured
// while writing this test), with it off under 1. Serial: process.cpuUsage() counts every thread
// of the process, so another test's sessions must not run meanwhile.
async function cpuMsWhileIdleAfterRuns(spinning: boolean | undefined): Promise<number> {
  const bundle = await readBundle(DEFAULT_BUNDLE);
  const topology = defaultTopology(DEFAULT_BUNDLE, spinning === undefined ? {} : { runtime: { spinning } });
  // Two threads: with one, onnxruntime makes no pool that could spin.
  const options = { ...sessionOptionsOf(topology), intraOpNumThreads: 2 };
  const client = InferenceClient.start();
  try {
    const s = bundle.manifest.sam2.input_size;
    const encoder = await client.load(bundle.file(bundle.manifest.sam2.encoder), options);
    const pixels = { pixel_values: { type: 'float32' as const, dims: [1, 3, s, s], data: new Float32Array(3 * s * s).fill(0.1) } };
    await encoder.run(pixels, ['image_embeddings.2']);
    let cpuMs = 0;
    const runs = 5;
    for (let i = 0; i < runs; i++) {
      await encoder.run(pixels, ['image_embeddings.2']);
      const before = process.cpuUsage(); // every thread of the process, the worker's pools included
      await new Promise((resolve) => setTimeout(resolve, 100));
      const used = process.cpuUsage(before);
      cpuMs += (used.user + used.system) / 1000;
    }
    await encoder.release();
    return cpuMs / runs;
  } finally {
    await client.close();
  }
}

test.serial("a topology's sessions do not busy-wait between runs by default", async (t) => {
  const idle = await cpuMsWhileIdleAfterRuns(undefined);
  t.log(idle);
  t.true(idle < 8, `${idle.toFixed(1)} ms of CPU in the 100 ms after a run: the session's threads kept spinning`);
});

test.serial('runtime.spinning: true lets them spin (so the measurement above can see it)', async (t) => {
  const idle = await cpuMsWhileIdleAfterRuns(true);
  t.log(idle);
  t.true(idle > 12, `only ${idle.toFixed(1)} ms of CPU in the 100 ms after a run with spinning on`);
});
