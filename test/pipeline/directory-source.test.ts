import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
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
