import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, SHAPES_VAL } from '../helpers/paths.js';
import { tempDir, withIndex } from './index-helpers.js';

const run = promisify(execFile);

interface Report {
  retrieval: Record<string, Record<string, number>>;
  retrieval_through_index: { object_guided: Record<string, number>; index: string };
}

test("eval --through-index: the retrieval figures from the index's caption searches equal the exact in-memory ones", async (t) => {
  const dir = join(await tempDir(t), 'eval-index');
  const frames = 30;
  const { stdout } = await run(
    process.execPath,
    [`${ROOT}bin/ogclip.js`, 'eval', SHAPES_VAL, '--limit', String(frames), '--no-detection', '--through-index', dir],
    { cwd: ROOT, maxBuffer: 1 << 24 },
  );
  const report = JSON.parse(stdout) as Report;
  const exact = report.retrieval.object_guided!;
  const indexed = report.retrieval_through_index.object_guided;
  t.deepEqual(indexed, exact);
  t.true(exact.i2t_r1! > 0.5 && exact.t2i_r1! > 0.5, `a meaningful run: ${JSON.stringify(exact)}`);
  // The index holds the prompted run's objects: one per ground-truth object of the 30 frames.
  await withIndex(dir, async (index) => {
    const objects = await index.objects();
    t.true(objects.length >= frames, `${objects.length} objects`);
    t.true(objects.every((o) => o.streamId === 'eval' && Number(o.frameId) < frames));
    t.is(index.modelVersion, 'ogclip-shapes-tiny@0.1.0');
  });
});
