import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { ConfigError } from '../../src/errors.js';
import { loadTopology } from '../../src/topology/load-topology.js';
import { ROOT } from '../helpers/paths.js';
import test from 'ava';
import sharp from 'sharp';
import type { FrameRecord } from '../../src/record.js';
import { ffmpegPath } from '../../src/sources/ffmpeg-frames.js';
import { videoSource, videoSourceComponent, VideoSourceError } from '../../src/sources/video-source.js';

const run = promisify(execFile);

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ogclip-video-'));
});
test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A test pattern video made by ffmpeg; `faststart` puts the index first, so a truncated file keeps its first frames readable. */
async function makeVideo(name: string, seconds: number, faststart = false): Promise<string> {
  const out = join(dir, name);
  await run(ffmpegPath(), [
    '-nostdin',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `testsrc=duration=${seconds}:size=160x120:rate=10`,
    '-pix_fmt',
    'yuv420p',
    ...(faststart ? ['-movflags', '+faststart'] : []),
    out,
  ]);
  return out;
}

/** The pids of this process's children whose command is ffmpeg (the tests run serially, so these are the test's own). */
async function ffmpegChildren(): Promise<number[]> {
  const pids: number[] = [];
  for (const ent of await readdir('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    const text = await readFile(`/proc/${ent}/stat`, 'utf8').catch(() => '');
    const m = /^\d+ \((.*)\) (\S) (\d+)/.exec(text);
    if (m && m[1] === 'ffmpeg' && m[2] !== 'Z' && Number(m[3]) === process.pid) pids.push(Number(ent));
  }
  return pids;
}

test.serial('a 3 s video sampled at 2 fps gives about 6 JPEG frames in order', async (t) => {
  const path = await makeVideo('clip.mp4', 3);
  const source = videoSource({ url: path, fps: 2, streamId: 'cam', limit: 0 });
  const frames: FrameRecord[] = [];
  try {
    for await (const f of source.frames()) frames.push(f);
  } finally {
    await source.close();
  }
  t.true(Math.abs(frames.length - 6) <= 1, `got ${frames.length} frames`);
  for (const [i, f] of frames.entries()) {
    const meta = await sharp(f.payload).metadata();
    t.is(meta.format, 'jpeg');
    t.is(meta.width, 160);
    t.is(meta.height, 120);
    t.is(f.contentType, 'image/jpeg');
    t.is(f.streamId, 'cam');
    t.is(f.frameId, String(i).padStart(8, '0'));
    t.deepEqual(f.origin, { kind: 'file', path });
    t.is(f.timestamp, i * 500);
  }
  for (let i = 1; i < frames.length; i++) t.true(frames[i]!.timestamp > frames[i - 1]!.timestamp);
  t.deepEqual(await ffmpegChildren(), []);
});

test.serial('limit stops after that many frames', async (t) => {
  const path = await makeVideo('limit.mp4', 3);
  const source = videoSource({ url: path, fps: 10, streamId: 'video', limit: 4 });
  const ids: string[] = [];
  for await (const f of source.frames()) ids.push(f.frameId);
  await source.close();
  t.deepEqual(ids, ['00000000', '00000001', '00000002', '00000003']);
});

test.serial('a truncated file yields the frames ffmpeg can read, then an error naming the file', async (t) => {
  const path = await makeVideo('broken.mp4', 3, true);
  await truncate(path, Math.floor((await stat(path)).size / 2));
  const source = videoSource({ url: path, fps: 2, streamId: 'video', limit: 0 });
  const frames: FrameRecord[] = [];
  const error = await t.throwsAsync(
    async () => {
      for await (const f of source.frames()) frames.push(f);
    },
    { instanceOf: VideoSourceError },
  );
  await source.close();
  t.true(frames.length >= 1 && frames.length < 6, `got ${frames.length} frames`);
  for (const f of frames) t.is((await sharp(f.payload).metadata()).width, 160);
  t.true(error?.message.includes(path), error?.message);
  t.regex(error?.message ?? '', /ffmpeg said:/);
});

test.serial('a file without its index (moov) fails with ffmpeg stderr in the error', async (t) => {
  const path = await makeVideo('no-index.mp4', 3);
  await truncate(path, Math.floor((await stat(path)).size / 2));
  const source = videoSource({ url: path, fps: 2, streamId: 'video', limit: 0 });
  const frames: FrameRecord[] = [];
  const error = await t.throwsAsync(async () => {
    for await (const f of source.frames()) frames.push(f);
  });
  await source.close();
  t.is(frames.length, 0);
  t.true(error?.message.includes(path), error?.message);
  t.regex(error?.message ?? '', /moov atom not found/);
});

test.serial('a missing file fails with an error naming it', async (t) => {
  const path = join(dir, 'missing.mp4');
  const source = videoSource({ url: path, fps: 1, streamId: 'video', limit: 0 });
  const error = await t.throwsAsync(async () => {
    for await (const _ of source.frames()) t.fail('no frame expected');
  });
  await source.close();
  t.true(error?.message.includes(path), error?.message);
  t.regex(error?.message ?? '', /No such file/);
});

test.serial('stop() mid-way ends iteration and ffmpeg exits', async (t) => {
  const path = await makeVideo('long.mp4', 60);
  const source = videoSource({ url: path, fps: 10, streamId: 'video', limit: 0 });
  const it = source.frames()[Symbol.asyncIterator]();
  for (let i = 0; i < 3; i++) t.false((await it.next()).done);
  // ffmpeg is blocked on the full pipe (nothing pulls): it is still running.
  t.is((await ffmpegChildren()).length, 1);
  source.stop();
  t.true((await it.next()).done);
  await source.close();
  t.deepEqual(await ffmpegChildren(), []);
});

test.serial('the component resolves relative paths and leaves URLs alone', (t) => {
  const abs = (p: string) => `/base/${p}`;
  const file = { kind: 'video' as const, url: 'clips/a.mp4', fps: 1, streamId: 'video', limit: 0 };
  videoSourceComponent.resolvePaths?.(file, abs);
  t.is(file.url, '/base/clips/a.mp4');
  const rtsp = { kind: 'video' as const, url: 'rtsp://cam.local/stream', fps: 1, streamId: 'video', limit: 0 };
  videoSourceComponent.resolvePaths?.(rtsp, abs);
  t.is(rtsp.url, 'rtsp://cam.local/stream');
});

test.serial('a topology with a video source validates, fills defaults and rejects fps 0', async (t) => {
  const demo = parse(await readFile(`${ROOT}topologies/demo.yaml`, 'utf8')) as Record<string, unknown>;
  const write = async (name: string, source: unknown) => {
    const path = join(dir, name);
    await writeFile(path, stringify({ ...demo, source }));
    return path;
  };
  const topo = await loadTopology(await write('video.yaml', { kind: 'video', url: 'rtsp://cam.local/stream' }));
  t.deepEqual(topo.source, { kind: 'video', url: 'rtsp://cam.local/stream', fps: 1, streamId: 'video', limit: 0 });
  await t.throwsAsync(loadTopology(await write('bad.yaml', { kind: 'video', url: 'a.mp4', fps: 0 })), {
    instanceOf: ConfigError,
  });
});
