import test, { type ExecutionContext } from 'ava';
import { mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { directorySource } from '../../src/sources/directory-source.js';
import type { FrameRecord } from '../../src/record.js';

test('a directory is read in name order, then watched for new files until stopped', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ogclip-dir-'));
  await writeFile(join(dir, 'b.png'), 'b');
  await writeFile(join(dir, 'a.jpg'), 'a');
  await writeFile(join(dir, '.hidden'), 'x');
  const src = directorySource({ path: dir, watch: true, streamId: 'cam', recursive: false });
  const it = src.frames()[Symbol.asyncIterator]();
  const first = (await it.next()).value as FrameRecord;
  const second = (await it.next()).value as FrameRecord;
  t.deepEqual([first.frameId, second.frameId], ['a.jpg', 'b.png']);
  t.is(first.contentType, 'image/jpeg');
  const third = it.next();
  await writeFile(join(dir, 'c.webp'), 'c');
  t.is(((await third).value as FrameRecord).frameId, 'c.webp');
  const end = it.next();
  src.stop();
  t.true((await end).done);
});

/**
 * Starts a watching source on a fresh folder holding `a.jpg`; resolves once the backfill took it
 * (so the watcher is ready). `dispose` stops the source, waits for its end and removes the folder;
 * it also runs at teardown, so a failing test leaves no watcher behind.
 */
async function watching(t: ExecutionContext, settleMs: number) {
  const dir = await mkdtemp(join(tmpdir(), 'ogclip-dir-'));
  await writeFile(join(dir, 'a.jpg'), 'a');
  const src = directorySource({ path: dir, watch: true, streamId: 'cam', recursive: false, settleMs });
  const it = src.frames()[Symbol.asyncIterator]();
  const next = async () => (await it.next()).value as FrameRecord;
  const first = await next();
  const dispose = async () => {
    const end = it.next();
    src.stop();
    const done = (await end).done;
    await rm(dir, { recursive: true, force: true });
    return done;
  };
  t.teardown(dispose);
  return { dir, first, next, dispose };
}

test('a file written in two chunks is taken once, whole, after it settles', async (t) => {
  const { dir, first, next, dispose } = await watching(t, 1000);
  t.is(first.frameId, 'a.jpg');
  const taken = next();
  const file = await open(join(dir, 'cam.jpg'), 'w');
  await file.write(Buffer.from('first half;'));
  await sleep(150); // longer than fs event latency, far shorter than settleMs
  await file.write(Buffer.from('second half'));
  await file.close();
  const r = await taken;
  t.is(r.frameId, 'cam.jpg');
  t.is(Buffer.from(r.payload).toString(), 'first half;second half');
  // Taken once: the next record is a later file, not cam.jpg again.
  const after = next();
  await writeFile(join(dir, 'z.jpg'), 'z');
  t.is((await after).frameId, 'z.jpg');
  t.true(await dispose());
});

test('a file renamed into the folder is taken once; its dot-named temporary never is', async (t) => {
  const { dir, next, dispose } = await watching(t, 200);
  const outside = await mkdtemp(join(tmpdir(), 'ogclip-out-'));
  t.teardown(() => rm(outside, { recursive: true, force: true }));
  const moved = next();
  await writeFile(join(outside, 'b.jpg'), 'moved in');
  await rename(join(outside, 'b.jpg'), join(dir, 'b.jpg'));
  const b = await moved;
  t.is(b.frameId, 'b.jpg');
  t.is(Buffer.from(b.payload).toString(), 'moved in');
  // Written under a temporary dot name inside the folder, then renamed.
  const renamed = next();
  await writeFile(join(dir, '.c.jpg.part'), 'written then renamed');
  await rename(join(dir, '.c.jpg.part'), join(dir, 'c.jpg'));
  const c = await renamed;
  t.is(c.frameId, 'c.jpg');
  t.is(Buffer.from(c.payload).toString(), 'written then renamed');
  const after = next();
  await writeFile(join(dir, 'z.jpg'), 'z');
  t.is((await after).frameId, 'z.jpg');
  t.true(await dispose());
});
