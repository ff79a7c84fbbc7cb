import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/errors.js';
import { openObjectIndex } from '../../src/index/object-index.js';
import type { ObjectsMessage } from '../../src/sinks/messages.js';
import { DEFAULT_BUNDLE, ROOT, SHAPES_VAL } from '../helpers/paths.js';
import { keysOf, tempDir } from './index-helpers.js';

const FRAMES = 40;

function runCli(yaml: string): ChildProcess {
  return spawn(process.execPath, [`${ROOT}bin/ogclip.js`, 'run', yaml], { stdio: ['ignore', 'ignore', 'pipe'] });
}

const exited = (p: ChildProcess) => new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));

/** Rows in the index now; 0 while no run has created it yet. */
async function rows(dir: string): Promise<number> {
  try {
    const index = await openObjectIndex(dir);
    try {
      return await index.count();
    } finally {
      index.close();
    }
  } catch (err) {
    if (err instanceof ConfigError && /no such index/.test(err.message)) return 0;
    throw err;
  }
}

/** Resolves once the index has at least `n` rows; rejects after `ms` (or when the process ends first). */
async function untilRows(dir: string, n: number, p: ChildProcess, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let gone = false;
  p.once('exit', () => (gone = true));
  for (;;) {
    const have = await rows(dir);
    if (have >= n) return have;
    if (gone) throw new Error(`the run ended with ${have} rows, before ${n}`);
    if (Date.now() > end) throw new Error(`${have} rows after ${ms} ms, waiting for ${n}`);
    await new Promise((r) => setTimeout(r, 100)); // polling interval of the latch, not a wait for an outcome
  }
}

test('backfill killed (SIGKILL) after some rows are in, then run again to completion: every object of every frame is in the index exactly once', async (t) => {
  const dir = await tempDir(t, 'ogclip-backfill-');
  const index = join(dir, 'index');
  const objects = join(dir, 'objects.jsonl');
  const yaml = join(dir, 'backfill.yaml');
  await writeFile(
    yaml,
    stringify({
      name: 'index-backfill-kill',
      bundle: DEFAULT_BUNDLE,
      source: { kind: 'dataset', path: SHAPES_VAL, limit: FRAMES },
      sam2: { mode: 'automatic', pointsPerSide: 8 },
      batching: { maxSize: 2, maxWaitMs: 10 },
      maxInFlight: 4,
      sinks: [
        { kind: 'index', path: index },
        { kind: 'jsonl', content: 'objects', path: objects },
      ],
    }),
  );

  const first = runCli(yaml);
  t.teardown(() => first.kill('SIGKILL'));
  const firstExit = exited(first);
  await untilRows(index, 8, first, 180_000);
  first.kill('SIGKILL');
  t.is(await firstExit, null, 'killed, not ended');
  const killedAt = new Set((await keysOf(index)).map((k) => k.split('/').slice(0, 2).join('/')));
  t.true(killedAt.size < FRAMES, `the kill came mid-run: ${killedAt.size} of ${FRAMES} frames indexed`);

  const second = runCli(yaml);
  t.teardown(() => second.kill('SIGKILL'));
  let stderr = '';
  second.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  t.is(await exited(second), 0, stderr);

  // The clean second run's objects JSONL names every object of every frame.
  const lines = (await readFile(objects, 'utf8')).trim().split('\n');
  t.is(lines.length, FRAMES);
  const want = lines.flatMap((l) => {
    const m = JSON.parse(l) as ObjectsMessage;
    return m.objects.map((o) => `${m.key}/${o.id}`);
  });
  const have = await keysOf(index);
  t.is(have.length, new Set(have).size, 'no object twice');
  t.deepEqual(have, [...want].sort());
  t.log(`${killedAt.size} frames indexed before the kill; ${have.length} objects of ${FRAMES} frames after the rerun`);
});
