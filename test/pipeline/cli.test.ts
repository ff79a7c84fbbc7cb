import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FIXTURES, ROOT, SHAPES_VAL } from '../helpers/paths.js';
import { base64Float32 } from '../../src/sinks/messages.js';

const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, [`${ROOT}bin/ogclip.js`, ...args], { cwd: ROOT });
const frame = `${SHAPES_VAL}/images/frame-00000.jpg`;

test('embed: a click gives one normalised object embedding with its top labels', async (t) => {
  const { stdout } = await cli('embed', frame, '--point', '60,70');
  const out = JSON.parse(stdout) as { objects: { embedding: number[]; embedding_base64: string; labels: { label: string }[] }[] };
  t.is(out.objects.length, 1);
  const e = out.objects[0]!.embedding;
  t.is(e.length, 64);
  t.true(Math.abs(Math.hypot(...e) - 1) < 1e-3);
  t.is(base64Float32(out.objects[0]!.embedding_base64).length, 64);
  t.is(out.objects[0]!.labels.length, 3);
});

test('detect: detections as JSON and an annotated PNG', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ogclip-cli-'));
  const { stdout } = await cli('detect', frame, '--out', join(dir, 'a.png'), '--points-per-side', '12');
  const out = JSON.parse(stdout) as { width: number; detections: { label: string; box: number[] }[] };
  t.is(out.width, 256);
  t.true(out.detections.length > 0);
  t.true((await stat(join(dir, 'a.png'))).size > 1000);
});

test('eval --prompt box on the held-out images the factory wrote reproduces its evaluation of a user bundle', async (t) => {
  const bundle = `${FIXTURES}user-bundle`;
  const { stdout } = await cli('eval', `${bundle}/eval/user-tiny-random-heldout`, '--bundle', bundle, '--prompt', 'box', '--no-detection');
  const ours = JSON.parse(stdout) as { retrieval: Record<string, Record<string, number>> };
  const factory = JSON.parse(await readFile(`${bundle}/eval/user-tiny-random-eval.json`, 'utf8')) as {
    retrieval: Record<string, Record<string, number>>;
  };
  for (const method of ['object_guided', 'crop_clip', 'plain_clip']) {
    for (const metric of ['i2t_r1', 'i2t_r5', 't2i_r1', 't2i_map', 'mean_rank']) {
      t.is(ours.retrieval[method]![metric], factory.retrieval[method]![metric], `${method}.${metric}`);
    }
  }
  // Clicks need masks: the held-out objects without one are named, with the way out.
  const e = await t.throwsAsync(cli('eval', `${FIXTURES}user-data`, '--bundle', bundle, '--no-detection'));
  t.regex((e as unknown as { stderr: string }).stderr, /has no mask to click in: use --prompt box/);
});

test('bad arguments and bad files give clear errors and a non-zero exit', async (t) => {
  const e1 = await t.throwsAsync(cli('embed', frame, '--point', '1,2,3'));
  t.regex((e1 as unknown as { stderr: string }).stderr, /--point must be 2 comma-separated numbers/);
  const e2 = await t.throwsAsync(cli('detect', `${ROOT}README.md`));
  t.regex((e2 as unknown as { stderr: string }).stderr, /decode failed \(unsupported-format\)/);
  const e3 = await t.throwsAsync(cli('run', `${ROOT}nope.yaml`));
  t.regex((e3 as unknown as { stderr: string }).stderr, /topology file not found/);
});

test("eval: retrieval through the pipeline reproduces the factory's evaluation of the bundle", async (t) => {
  const { stdout } = await cli('eval', SHAPES_VAL, '--no-detection');
  const ours = JSON.parse(stdout) as { retrieval: Record<string, Record<string, number>>; detection?: unknown };
  const factory = JSON.parse(await readFile(`${ROOT}training/results/shapes-eval.json`, 'utf8')) as {
    retrieval: Record<string, Record<string, number>>;
  };
  t.is(ours.detection, undefined);
  for (const method of ['plain_clip', 'crop_clip', 'object_guided']) {
    for (const metric of ['i2t_r1', 'i2t_r5', 't2i_r1', 't2i_map', 't2i_rprec', 'mean_rank']) {
      t.is(ours.retrieval[method]![metric], factory.retrieval[method]![metric], `${method}.${metric}`);
    }
  }
});
