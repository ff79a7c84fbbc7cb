import test from 'ava';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memorySource } from '../../src/sources/memory-source.js';
import { defaultTopology } from '../../src/topology/default-topology.js';
import { startTopology } from '../../src/topology/start-topology.js';
import { validate } from '../../src/schema/validator.js';
import { GIF, SVG, corruptJpeg, pngBomb, pngImage } from '../helpers/images.js';
import { DEFAULT_BUNDLE } from '../helpers/paths.js';
import { record } from '../helpers/records.js';

test('bad inputs reach the dead-letter output with a reason while the rest of the stream completes', async (t) => {
  const out = await mkdtemp(join(tmpdir(), 'ogclip-bad-'));
  const good = await pngImage(96, 96);
  const click = [{ points: [[20, 20] as [number, number]], labels: [1 as const] }];
  const frames = [
    record('good-1', good, { prompts: click }),
    record('corrupt-jpeg', await corruptJpeg()),
    record('zero-bytes', new Uint8Array(0)),
    record('png-20000x20000', pngBomb(20000, 20000)),
    record('svg', SVG, { contentType: 'image/svg+xml' }),
    record('gif', GIF),
    record('wrong-content-type', good, { contentType: 'image/jpeg' }),
    record('prompt-outside', good, { prompts: [{ points: [[500, 10]] }] }),
    record('prompt-nan', good, { prompts: [{ points: [[Number.NaN, 10]] }] }),
    record('good-2', good),
  ];
  const topo = defaultTopology(DEFAULT_BUNDLE, {
    sam2: { mode: 'automatic', pointsPerSide: 4 },
    sinks: [
      { kind: 'jsonl', content: 'dead-letters', path: join(out, 'dead.jsonl') },
      { kind: 'jsonl', content: 'detections', path: join(out, 'det.jsonl') },
      { kind: 'summary', path: join(out, 'summary.json') },
    ],
  });
  const source = memorySource(frames);
  const run = await startTopology(topo, { source, log: () => {} });
  await run.done;
  const dead = (await readFile(join(out, 'dead.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  for (const d of dead) t.deepEqual(validate('dead-letter', d), []);
  t.deepEqual(Object.fromEntries(dead.map((d) => [d.frame_id, `${d.error.stage}:${d.error.code}`])), {
    'corrupt-jpeg': 'decode:corrupt-image',
    'zero-bytes': 'decode:empty-input',
    'png-20000x20000': 'decode:image-too-large',
    svg: 'decode:unsupported-format',
    gif: 'decode:unsupported-format',
    'wrong-content-type': 'decode:unsupported-format',
    'prompt-outside': 'sam2:bad-prompt',
    'prompt-nan': 'sam2:bad-prompt',
  });
  const det = (await readFile(join(out, 'det.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).frame_id);
  t.deepEqual(det, ['good-1', 'good-2']);
  t.is(source.acked.length, frames.length, 'every frame, good or bad, was acknowledged to the source');
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
  t.is(summary.dead_letters, 8);
});
