import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startCameraBridge, type CameraOptions } from '../../src/camera/camera-bridge.js';
import type { FrameMessage } from '../../src/kafka/frame-message.js';
import { ConfigError } from '../../src/errors.js';
import { HEADERS } from '../../src/kafka/kafka-message.js';
import { ffmpegPath } from '../../src/sources/ffmpeg-frames.js';

let dir = '';
let video = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ogclip-camera-unit-'));
  video = join(dir, 'clip.mp4');
  await promisify(execFile)(ffmpegPath(), [
    ...['-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=duration=2:size=64x48:rate=10'],
    ...['-pix_fmt', 'yuv420p', video],
  ]);
});
test.after.always(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const base: CameraOptions = {
  url: '',
  fps: 10,
  streamId: 'cam-u',
  keyBy: 'frame',
  stallTimeoutMs: 10_000,
  maxRetries: 3,
  backoff: { initialMs: 100, maxMs: 1000 },
  loop: false,
  realtime: false,
  limit: 0,
};

test('capture times increase even when the clock stands still; ids carry the start time; frame keys', async (t) => {
  const sent: FrameMessage[] = [];
  const bridge = startCameraBridge(
    { ...base, url: video },
    { send: async (m) => void sent.push(m), log: () => {}, now: () => 1_700_000_000_000 },
  );
  const stats = await bridge.done;
  t.is(stats.frames, sent.length);
  t.true(sent.length >= 19, `${sent.length} frames`);
  const times = sent.map((m) => Number(m.headers[HEADERS.timestamp]));
  t.deepEqual(
    times,
    sent.map((_, i) => 1_700_000_000_000 + i),
  );
  t.deepEqual(
    sent.map((m) => m.key),
    sent.map((_, i) => `cam-u/1700000000000-${String(i).padStart(8, '0')}`),
  );
});

test('--loop plays a file again at its end; --limit stops it', async (t) => {
  const sent: FrameMessage[] = [];
  const bridge = startCameraBridge({ ...base, url: video, loop: true, limit: 45 }, { send: async (m) => void sent.push(m), log: () => {} });
  t.is((await bridge.done).frames, 45);
  t.is(sent.length, 45);
});

test('options that cannot work are configuration errors', (t) => {
  const deps = { send: async () => {}, log: () => {} };
  t.throws(() => startCameraBridge({ ...base, url: video, fps: 0 }, deps), { instanceOf: ConfigError, message: /--fps/ });
  t.throws(() => startCameraBridge({ ...base, url: 'rtsp://cam/x', loop: true }, deps), { instanceOf: ConfigError, message: /--loop/ });
  t.throws(() => startCameraBridge({ ...base, url: 'rtsp://cam/x', stallTimeoutMs: 50 }, deps), {
    instanceOf: ConfigError,
    message: /stall timeout/,
  });
  t.throws(() => startCameraBridge({ ...base, url: video, maxRetries: -1 }, deps), { instanceOf: ConfigError, message: /--max-retries/ });
});
