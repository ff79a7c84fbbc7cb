import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBundle } from '../../src/models/bundle.js';
import { openModelSet } from '../../src/models/model-set.js';
import { ModelFormatError } from '../../src/errors.js';
import { DEFAULT_BUNDLE, FIXTURES } from '../helpers/paths.js';

// The embedded head (64-d) on the random public-format CLIP (512-d text): before this check the
// bundle loaded and every score was NaN, so nothing was ever detected and nothing said why.
test('a head whose embeddings do not match the text tower is refused at load, naming both files and sizes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ogclip-dims-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const shapes = JSON.parse(await readFile(join(DEFAULT_BUNDLE, 'bundle.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  const publicFormat = JSON.parse(await readFile(`${FIXTURES}public-format-bundle/bundle.json`, 'utf8')) as Record<string, unknown>;
  const abs = (root: string, section: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(section).map(([k, v]) => [
        k,
        (typeof v === 'string' && v.endsWith('.onnx')) || k.startsWith('tokenizer') ? join(root, v as string) : v,
      ]),
    );
  const manifest = {
    ...publicFormat,
    sam2: abs(`${FIXTURES}public-format-bundle`, publicFormat.sam2 as Record<string, unknown>),
    clip: abs(`${FIXTURES}public-format-bundle`, publicFormat.clip as Record<string, unknown>),
    head: abs(DEFAULT_BUNDLE, shapes.head!),
  };
  await writeFile(join(dir, 'bundle.json'), JSON.stringify(manifest));
  const err = await t.throwsAsync(openModelSet(await readBundle(dir)), { instanceOf: ModelFormatError });
  t.regex(err!.message, /embedding sizes disagree/);
  t.regex(err!.message, /text tower \(text_embeds\) gives 512 \(.*text_model\.onnx\)/);
  t.regex(err!.message, /head \(projection embeds\) gives 64 \(.*projection\.onnx\)/);
});

test('bundle.json embedding_dim must agree with the models', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ogclip-dims-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const m = JSON.parse(await readFile(join(DEFAULT_BUNDLE, 'bundle.json'), 'utf8')) as Record<string, unknown>;
  const abs = (section: unknown) =>
    Object.fromEntries(
      Object.entries(section as Record<string, unknown>).map(([k, v]) => [
        k,
        typeof v === 'string' && v.includes('/') ? join(DEFAULT_BUNDLE, v) : v,
      ]),
    );
  await writeFile(
    join(dir, 'bundle.json'),
    JSON.stringify({ ...m, sam2: abs(m.sam2), clip: abs(m.clip), head: abs(m.head), embedding_dim: 32 }),
  );
  const err = await t.throwsAsync(openModelSet(await readBundle(dir)), { instanceOf: ModelFormatError });
  t.regex(err!.message, /bundle\.json embedding_dim is 32/);
});
