import test from 'ava';
import { readFile } from 'node:fs/promises';
import {
  DEV_END_SEED,
  DEV_FIRST_SEED,
  f1Of,
  sam2Settings,
  selectBest,
  similaritySettings,
  weightsHash,
  type TuningFile,
} from '../../bench/tuning.js';
import { readBundle } from '../../src/models/bundle.js';
import { loadTopology } from '../../src/topology/load-topology.js';
import { ROOT, SHAPES_VAL } from '../helpers/paths.js';

// topologies/demo.tuning.json is written by `npm run tune:demo` (scripts/tune-demo.sh); see
// "Tuning the demo's filters" in the README.
const readTuning = async (): Promise<TuningFile> => JSON.parse(await readFile(`${ROOT}topologies/demo.tuning.json`, 'utf8')) as TuningFile;

test("the demo topology's five filters are the tuning file's choice", async (t) => {
  const tuning = await readTuning();
  const topo = await loadTopology(`${ROOT}topologies/demo.yaml`);
  const { sam2, similarity } = tuning.choice;
  const msg = 'topologies/demo.yaml differs from choice in topologies/demo.tuning.json: rerun `npm run tune:demo`';
  t.deepEqual(
    {
      sam2: {
        predIouThresh: topo.sam2.predIouThresh,
        stabilityScoreThresh: topo.sam2.stabilityScoreThresh,
        boxNmsThresh: topo.sam2.boxNmsThresh,
      },
      similarity: { threshold: topo.similarity.threshold, maskNmsThresh: topo.similarity.maskNmsThresh },
    },
    {
      sam2: { predIouThresh: sam2.predIouThresh, stabilityScoreThresh: sam2.stabilityScoreThresh, boxNmsThresh: sam2.boxNmsThresh },
      similarity: { threshold: similarity.threshold, maskNmsThresh: similarity.maskNmsThresh },
    },
    msg,
  );
  const bundle = await readBundle(topo.bundle);
  t.is(tuning.bundle.model, `${bundle.manifest.name}@${bundle.manifest.version}`, 'tuned with another bundle: rerun `npm run tune:demo`');
  t.is(tuning.bundle.weights_sha256, await weightsHash(topo.bundle), "the bundle's models changed since tuning: rerun `npm run tune:demo`");
});

test('the demo was tuned on the development split, not on any validation frame', async (t) => {
  const { split } = await readTuning();
  t.true(Number.isInteger(split.first_seed) && Number.isInteger(split.count) && split.count > 0);
  t.true(split.first_seed >= DEV_FIRST_SEED, `first seed ${split.first_seed}`);
  t.true(split.first_seed + split.count <= DEV_END_SEED, `last seed ${split.first_seed + split.count - 1}`);
  const val = JSON.parse(await readFile(`${SHAPES_VAL}/dataset.json`, 'utf8')) as { images: { seed: number }[] };
  t.is(val.images.length, 300);
  const overlap = val.images.map((im) => im.seed).filter((s) => s >= split.first_seed && s < split.first_seed + split.count);
  t.deepEqual(overlap, []);
});

test('the tuning file is a complete grid and its choice follows its selection rule', async (t) => {
  const tuning = await readTuning();
  const points = sam2Settings(tuning.grid_spec).flatMap((sam2) =>
    similaritySettings(tuning.grid_spec).map((similarity) => ({ sam2, similarity })),
  );
  t.is(tuning.grid.length, points.length);
  tuning.grid.forEach((g, i) => {
    t.is(g.index, i);
    t.deepEqual({ sam2: g.sam2, similarity: g.similarity }, points[i]);
    t.true(Math.abs(g.f1 - f1Of(g.precision, g.recall)) < 1e-12);
  });
  t.deepEqual(tuning.choice, selectBest(tuning.grid));
  t.regex(tuning.command, /^npm run tune:demo/);
});

test('selection: highest F1, then higher precision, then the earlier grid point', (t) => {
  const p = (index: number, precision: number, recall: number) => ({ index, precision, recall, f1: f1Of(precision, recall) });
  t.is(selectBest([p(0, 0.8, 0.8), p(1, 0.9, 0.9), p(2, 0.85, 0.85)]).index, 1);
  // Same F1 (0.8): the higher precision wins whatever its place.
  t.is(selectBest([p(0, 0.8, 0.8), p(1, 1, 2 / 3), p(2, 2 / 3, 1)]).index, 1);
  // Same F1 and precision: the earlier point.
  t.is(selectBest([p(0, 0.5, 0.5), p(1, 0.9, 0.6), p(2, 0.9, 0.6)]).index, 1);
  // Float noise in F1 is a tie, not a win.
  t.is(selectBest([p(0, 0.7, 0.9), { index: 1, precision: 0.7, recall: 0.9, f1: f1Of(0.7, 0.9) + 1e-12 }]).index, 0);
  t.is(selectBest([p(0, 0, 0)]).index, 0);
  t.throws(() => selectBest([]));
});
