import test from 'ava';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_BUNDLE, SHAPES_VAL } from '../helpers/paths.js';

// By its name, as a user's program imports it: resolved through package.json "exports" (the
// package refers to itself), so a wrong entry path or a missing src/index.ts fails here.
const PACKAGE = 'ogclip';
type Api = typeof import('../../src/index.js');

test('the package imports by its name and exposes the pipeline, stages, operators, sources, sinks and bundle loader', async (t) => {
  const api = (await import(PACKAGE)) as Api;
  for (const name of [
    'runPipeline',
    'startTopology',
    'loadTopology',
    'defaultTopology',
    'readBundle',
    'openModelSet',
    'decodeStage',
    'sam2Stage',
    'branchesStage',
    'fusionStage',
    'projectionStage',
    'cropEmbedStage',
    'similarityStage',
    'batchBySizeAndTime',
    'mapConcurrentOrdered',
    'memorySource',
    'directorySource',
    'kafkaSource',
    'jsonlSink',
    'kafkaSink',
    'collectSink',
  ] as const) {
    t.is(typeof api[name], 'function', name);
  }
});

test("the README's custom topology in code: a folder of images into a sink of your own", async (t) => {
  const { defaultTopology, startTopology } = (await import(PACKAGE)) as Api;
  const folder = await mkdtemp(join(tmpdir(), 'ogclip-api-'));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  for (const f of ['frame-00000.jpg', 'frame-00001.jpg']) await copyFile(join(SHAPES_VAL, 'images', f), join(folder, f));

  // --- as in the README ---
  const seen: string[] = [];
  const mySink: import('../../src/index.js').Sink = {
    name: 'my-sink',
    write: async (records) => {
      for (const r of records) for (const d of r.detections ?? []) seen.push(`${r.frameId}: ${d.label} ${d.score.toFixed(2)}`);
    },
    close: async () => {},
  };
  const topology = defaultTopology(DEFAULT_BUNDLE, {
    source: { kind: 'directory', path: folder },
    sam2: { mode: 'automatic', pointsPerSide: 8 },
    // Frames that fail (a corrupt file, say) are data: they go to a dead-letter file.
    sinks: [{ kind: 'jsonl', content: 'dead-letters', path: join(folder, 'dead-letters.jsonl') }],
  });
  const run = await startTopology(topology, { extraSinks: [mySink], log: () => {} });
  await run.done;
  // ---

  t.true(seen.length > 0);
  t.true(
    seen.every((s) => /^frame-0000[01]\.jpg: a (small|large) \w+ \w+ \d\.\d\d$/.test(s)),
    seen.join('\n'),
  );
});
