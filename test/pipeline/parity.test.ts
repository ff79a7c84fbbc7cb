import test from 'ava';
import { pipelineParity } from '../helpers/parity.js';
import { DEFAULT_BUNDLE } from '../helpers/paths.js';

test("pipeline embeddings match the factory's PyTorch reference (cosine >= 0.9999), object-guided and crop", async (t) => {
  const r = await pipelineParity(t, DEFAULT_BUNDLE);
  t.true(r.objects >= 40);
  t.true(r.worst.guided >= 0.9999);
  t.true(r.worst.crop >= 0.9999);
});
