import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { FIXTURES, ROOT } from '../helpers/paths.js';
import { builtIndex } from './index-helpers.js';

const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, [`${ROOT}bin/ogclip.js`, ...args], { cwd: ROOT, maxBuffer: 1 << 24 });

interface Hit {
  rank: number;
  score: number;
  key: string;
  stream_id: string;
  box: number[];
  labels: { label: string; score: number }[];
  origin: { kind: string; path?: string };
}
const hitsOf = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l) as Hit);

/** An index of the first 6 validation frames, built by `ogclip run` with an index sink. */
const cleanup: (() => Promise<unknown>)[] = [];
test.after.always(() => Promise.all(cleanup.map((c) => c())));
const built = builtIndex({ teardown: (fn) => void cleanup.push(async () => fn()) }, 6);

test('search by text: JSON lines, best first, the top hit labelled as the query; a stream filter that matches nothing gives none', async (t) => {
  const { index } = await built;
  const { stdout } = await cli('search', 'a large purple cross', '--index', index, '--k', '4', '--json');
  const hits = hitsOf(stdout);
  t.is(hits.length, 4);
  t.deepEqual(
    hits.map((h) => h.rank),
    [1, 2, 3, 4],
  );
  t.true(
    hits.every((h, i) => i === 0 || h.score <= hits[i - 1]!.score),
    'scores descending',
  );
  t.is(hits[0]!.labels[0]!.label, 'a large purple cross');
  t.is(hits[0]!.origin.kind, 'dataset');
  t.true(hits.every((h) => h.stream_id === 'shapes' && /^shapes\/\d+\/0\.1\.0\/\d+$/.test(h.key)));
  const none = await cli('search', 'a large purple cross', '--index', index, '--stream', 'elsewhere', '--json');
  t.is(none.stdout, '');
  const later = await cli('search', 'a large purple cross', '--index', index, '--since', '2999-01-01T00:00:00Z', '--json');
  t.is(later.stdout, '');
});

test('search by example: a box around an object of a frame finds that object first; --sheet draws the hits', async (t) => {
  const { dir, index } = await built;
  const text = hitsOf((await cli('search', 'a large purple cross', '--index', index, '--k', '1', '--json')).stdout)[0]!;
  const [x0, y0, x1, y1] = text.box;
  const sheet = join(dir, 'sheet.png');
  const { stdout, stderr } = await cli(
    'search',
    '--image',
    text.origin.path!,
    '--box',
    `${x0},${y0},${x1},${y1}`,
    '--index',
    index,
    '--k',
    '3',
    '--json',
    '--sheet',
    sheet,
  );
  const hits = hitsOf(stdout);
  t.is(hits[0]!.key, text.key);
  t.true(hits[0]!.score > 0.9, `score ${hits[0]!.score}`);
  const meta = await sharp(sheet).metadata();
  t.is(meta.width, 3 * 160);
  t.regex(stderr, /3 of 3 hits drawn/);
});

test('search refuses a bundle of another model version, and an index path with no index', async (t) => {
  const { index } = await built;
  const other = await t.throwsAsync(cli('search', 'a circle', '--index', index, '--bundle', `${FIXTURES}user-bundle`));
  t.regex(
    (other as Error & { stderr: string }).stderr,
    /holds objects embedded by ogclip-shapes-tiny@0\.1\.0, but --bundle .* is user-tiny-random@0\.1\.0/,
  );
  const missing = await t.throwsAsync(cli('search', 'a circle', '--index', join(index, 'nothing')));
  t.regex((missing as Error & { stderr: string }).stderr, /no such index/);
});
