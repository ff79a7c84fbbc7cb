import test from 'ava';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTopology } from '../../src/topology/load-topology.js';
import { startTopology } from '../../src/topology/start-topology.js';
import { validate } from '../../src/schema/validator.js';
import { ROOT } from '../helpers/paths.js';

test('the demo topology on the embedded default meets the bar: precision and recall >= 0.90', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'ogclip-demo-'));
  // The shipped topology as it is, with its outputs redirected to a temporary folder.
  const topo = await loadTopology(`${ROOT}topologies/demo.yaml`, (tp) => {
    tp.sinks = tp.sinks
      .filter((s) => s.kind !== 'console')
      .map((s) =>
        s.kind === 'annotated-png'
          ? { ...s, dir: join(out, 'annotated') }
          : 'path' in s
            ? { ...s, path: join(out, s.path.split('/').pop()!) }
            : s,
      );
  });
  const running = await startTopology(topo, { log: () => {} });
  await running.done;
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Record<string, number>;
  t.deepEqual(validate('summary', summary), []);
  t.log(
    JSON.stringify({
      precision: summary.precision,
      recall: summary.recall,
      fps: summary.frames_per_second,
      detections: summary.detections,
    }),
  );
  t.is(summary.frames, 300);
  t.is(summary.dead_letters, 0);
  t.true(summary.precision! >= 0.9, `precision ${summary.precision}`);
  t.true(summary.recall! >= 0.9, `recall ${summary.recall}`);
  const lines = (await readFile(join(out, 'detections.jsonl'), 'utf8')).trim().split('\n');
  t.is(lines.length, 300);
  t.deepEqual(validate('detections', JSON.parse(lines[0]!)), []);
  const objects = (await readFile(join(out, 'objects.jsonl'), 'utf8')).trim().split('\n');
  t.deepEqual(validate('objects', JSON.parse(objects[0]!)), []);
  t.is((await readdir(join(out, 'annotated'))).length, 24);
});
