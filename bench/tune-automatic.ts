// Grid search over the automatic mask filters of a topology, scored on a dataset with ground
// truth (precision / recall, as the summary sink computes them). Tune on a split that is not the
// one you report: the demo's filters came from
//   (cd training && $(../scripts/python-env.sh)/bin/python -m ogclip_factory.dataset --out /tmp/tune --first-seed 3000000 --count 80)
//   node dist/bench/tune-automatic.js topologies/demo.yaml /tmp/tune
import { readBundle } from '../src/models/bundle.js';
import { openModelSet } from '../src/models/model-set.js';
import { summarySink } from '../src/sinks/summary-sink.js';
import { datasetReplaySource } from '../src/sources/dataset-replay-source.js';
import { loadTopology } from '../src/topology/load-topology.js';
import { sessionOptionsOf, startTopology } from '../src/topology/start-topology.js';

const [topologyPath, dataset, limitArg] = process.argv.slice(2);
if (!topologyPath || !dataset) {
  process.stderr.write('usage: node dist/bench/tune-automatic.js <topology.yaml> <dataset> [frames]\n');
  process.exit(2);
}
const base = await loadTopology(topologyPath);
const models = await openModelSet(await readBundle(base.bundle), sessionOptionsOf(base));
const grid: { predIouThresh: number; stabilityScoreThresh: number; boxNmsThresh: number; threshold: number; maskNmsThresh: number }[] = [];
for (const predIouThresh of [0.6, 0.7, 0.8])
  for (const stabilityScoreThresh of [0.7, 0.9])
    for (const threshold of [0.5, 0.6])
      grid.push({ predIouThresh, stabilityScoreThresh, boxNmsThresh: 0.5, threshold, maskNmsThresh: 0.3 });
for (const g of grid) {
  const t = {
    ...base,
    sam2: { ...base.sam2, predIouThresh: g.predIouThresh, stabilityScoreThresh: g.stabilityScoreThresh, boxNmsThresh: g.boxNmsThresh },
    similarity: { ...base.similarity, threshold: g.threshold, maskNmsThresh: g.maskNmsThresh },
    sinks: [],
  };
  const sink = await summarySink(undefined);
  const source = await datasetReplaySource({ path: dataset, fps: 0, streamId: 'tune', limit: Number(limitArg ?? 0), loops: 1 });
  const run = await startTopology(t, { source, models, extraSinks: [sink], log: () => {} });
  await run.done;
  const s = sink.summary();
  process.stdout.write(`${JSON.stringify(g)} precision ${s.precision?.toFixed(3)} recall ${s.recall?.toFixed(3)}\n`);
}
await models.dispose();
