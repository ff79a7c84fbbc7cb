import test from 'ava';
import { readFile } from 'node:fs/promises';
import { pipelineParity } from '../helpers/parity.js';
import { FIXTURES } from '../helpers/paths.js';

// test/fixtures/user-bundle: a head trained by `python -m ogclip_factory.user_build` for the
// random-weight public-format SAM2 + CLIP exports, on test/fixtures/user-data (non-square
// images, objects prompted by their boxes; the head crops each object at 0.5, 1 and 2 times its
// window, the seed's multi-scale option). The pipeline must reproduce the factory's embeddings.
test('a head built by the factory for public-format SAM2 + CLIP runs in the pipeline with the same embeddings (cosine >= 0.9999)', async (t) => {
  const manifest = JSON.parse(await readFile(`${FIXTURES}user-bundle/bundle.json`, 'utf8')) as { head: { object_scales: number[] } };
  t.deepEqual(manifest.head.object_scales, [0.5, 1, 2]);
  const r = await pipelineParity(t, `${FIXTURES}user-bundle`);
  t.true(r.frames >= 2);
  t.true(r.objects >= 5);
  t.true(r.worst.guided >= 0.9999);
  t.true(r.worst.crop >= 0.9999);
});
