import test from 'ava';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { HEADERS } from '../../src/kafka/kafka-message.js';
import { ffmpegPath } from '../../src/sources/ffmpeg-frames.js';
import { sharedBrokers } from '../kafka/broker.js';
import { collect, createTopics, uniqueName, type Collected } from '../kafka/kafka-helpers.js';
import { ROOT } from '../helpers/paths.js';

const run = promisify(execFile);

let dir = '';
let brokers: string[] = [];
let release: () => Promise<void> = async () => {};
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ogclip-camera-'));
  ({ brokers, release } = await sharedBrokers());
});
test.after.always(async () => {
  await release();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A testsrc video made by ffmpeg: 10 frames a second, 160 x 120. */
async function makeVideo(name: string, seconds: number, format: string[] = ['-pix_fmt', 'yuv420p']): Promise<string> {
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
    ...format,
    out,
  ]);
  return out;
}

interface Bridge {
  readonly proc: ChildProcess;
  stderr(): string;
  /** The exit status, or 'timeout' (the process is then killed) after timeoutMs. */
  exit(timeoutMs: number): Promise<number | 'timeout'>;
}

function startBridge(args: string[]): Bridge {
  const proc = spawn(process.execPath, [`${ROOT}bin/ogclip.js`, 'camera', ...args, '--brokers', brokers.join(',')], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  return {
    proc,
    stderr: () => stderr,
    exit: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
      const result = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (result === 'timeout') {
        proc.kill('SIGKILL');
        await exited;
      }
      return result;
    },
  };
}

/** Pids of the ffmpeg processes whose parent is `pid`. */
async function ffmpegChildrenOf(pid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const ent of await readdir('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    const text = await readFile(`/proc/${ent}/stat`, 'utf8').catch(() => '');
    const m = /^\d+ \((.*)\) (\S) (\d+)/.exec(text);
    if (m && m[1] === 'ffmpeg' && m[2] !== 'Z' && Number(m[3]) === pid) pids.push(Number(ent));
  }
  return pids;
}

async function alive(pid: number): Promise<boolean> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return /^\d+ \(ffmpeg\) [^Z]/.test(text);
}

type Serve = 'full' | 'cut' | 'hold' | 'missing';

/**
 * A camera over HTTP: serves `bytes` (an MPEG-TS stream) per request as `plan(n)` says: whole,
 * cut (60 % then the connection is destroyed), hold (60 % then nothing, connection kept open),
 * or 404. 60 % of 10 s is more than ffmpeg probes (5 s) before its first frame. Records when each request came and when each cut happened.
 */
async function cameraServer(bytes: Buffer, plan: (n: number) => Serve) {
  const requests: { at: number; serve: Serve }[] = [];
  const cuts: number[] = [];
  const held: ServerResponse[] = [];
  const server: Server = createServer((_req, res) => {
    const serve = plan(requests.length);
    requests.push({ at: Date.now(), serve });
    if (serve === 'missing') {
      res.writeHead(404).end('no camera here');
      return;
    }
    res.writeHead(200, { 'content-type': 'video/mp2t' });
    if (serve === 'full') {
      res.end(bytes);
      return;
    }
    res.write(bytes.subarray(0, Math.floor(bytes.length * 0.6)), () => {
      if (serve === 'cut') {
        cuts.push(Date.now());
        res.socket?.destroy();
      } else held.push(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/stream.ts`,
    requests,
    cuts,
    close: async () => {
      for (const res of held) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const sentCount = (stderr: string) => Number(/sent (\d+) frames/.exec(stderr)?.[1] ?? NaN);

/** Frame ids, capture times, keys: unique, counting on from 0 across reconnects, increasing, one key. */
function checkSequence(t: import('ava').ExecutionContext, messages: readonly Collected[], streamId: string) {
  const ids = messages.map((m) => m.headers[HEADERS.frameId]!);
  t.is(new Set(ids).size, ids.length, 'frame ids are unique');
  const prefix = ids[0]!.split('-')[0]!;
  t.regex(prefix, /^\d{13}$/);
  t.deepEqual(
    ids,
    ids.map((_, i) => `${prefix}-${String(i).padStart(8, '0')}`),
    'frame ids count on across reconnects, in order',
  );
  const times = messages.map((m) => Number(m.headers[HEADERS.timestamp]));
  for (let i = 1; i < times.length; i++) t.true(times[i]! > times[i - 1]!, `capture time ${i} increases`);
  for (const m of messages) {
    t.is(m.key, streamId);
    t.is(m.headers[HEADERS.streamId], streamId);
    t.is(m.headers[HEADERS.contentType], 'image/jpeg');
  }
}

test.serial('a video file pushed at 5 fps arrives as decodable JPEG frames, paced, keyed by stream, then the bridge exits', async (t) => {
  const video = await makeVideo('clip.mp4', 2);
  const topic = uniqueName('cam');
  await createTopics(brokers, [topic], 2);
  const startedAt = Date.now();
  const bridge = startBridge([video, '--topic', topic, '--fps', '5', '--stream-id', 'cam-file']);
  t.is(await bridge.exit(60_000), 0, bridge.stderr());
  const endedAt = Date.now();
  const sent = sentCount(bridge.stderr());
  t.true(Math.abs(sent - 10) <= 1, bridge.stderr());
  const messages = await collect(brokers, topic, (all) => all.length >= sent, 30_000);
  t.is(messages.length, sent);
  checkSequence(t, messages, 'cam-file');
  for (const m of messages) {
    const meta = await sharp(m.value).metadata();
    t.is(meta.format, 'jpeg');
    t.is(meta.width, 160);
    t.is(meta.height, 120);
  }
  const times = messages.map((m) => Number(m.headers[HEADERS.timestamp]));
  t.true(times[0]! >= startedAt && times.at(-1)! <= endedAt, 'capture times are wall-clock times of the run');
  // Played at the video's speed, like a camera: 10 frames 200 ms apart span about 1.8 s.
  t.true(times.at(-1)! - times[0]! >= 1200, `frames spread over ${times.at(-1)! - times[0]!} ms`);
});

test.serial('a camera that drops mid-way is reconnected after back-off; ids count on; SIGTERM flushes and kills ffmpeg', async (t) => {
  const stream = await readFile(await makeVideo('camera.ts', 10, ['-c:v', 'mpeg2video', '-f', 'mpegts']));
  // 1st connection cut after 60 %, 2nd the whole 10 s (50 frames at 5 fps), then 60 % and hold.
  const camera = await cameraServer(stream, (n) => (n === 0 ? 'cut' : n === 1 ? 'full' : 'hold'));
  t.teardown(camera.close);
  const topic = uniqueName('cam');
  await createTopics(brokers, [topic], 2);
  const bridge = startBridge([
    camera.url,
    '--topic',
    topic,
    '--fps',
    '5',
    '--stream-id',
    'cam-http',
    '--retry-initial-ms',
    '2000',
    '--retry-max-ms',
    '4000',
    '--max-retries',
    '3',
    '--stall-timeout-ms',
    '120000',
  ]);
  t.teardown(() => bridge.proc.kill('SIGKILL'));
  // More frames than any one connection gives: they can only come over several.
  // (and the third connection, held open, has started).
  const early = await collect(brokers, topic, (all) => all.length >= 52 && camera.requests.length >= 3, 90_000);
  t.true(early.length >= 52, `${early.length} frames arrived; bridge said:\n${bridge.stderr()}`);
  t.true(camera.requests.length >= 3, `${camera.requests.length} requests`);
  // Back-off: the reconnect came no sooner than the delay the bridge announced, which is at
  // least half the initial delay (equal jitter); restarting ffmpeg alone takes far less.
  const announced = Number(/reconnect attempt 1\/3 in (\d+) ms/.exec(bridge.stderr())?.[1]);
  t.true(announced >= 1000 && announced <= 2000, bridge.stderr());
  const gap = camera.requests[1]!.at - camera.cuts[0]!;
  t.true(gap >= announced, `reconnected ${gap} ms after the cut, back-off ${announced} ms`);
  // The third connection is held open: its ffmpeg is running when SIGTERM comes.
  const ffmpegs = await ffmpegChildrenOf(bridge.proc.pid!);
  t.is(ffmpegs.length, 1);
  bridge.proc.kill('SIGTERM');
  t.is(await bridge.exit(20_000), 0, bridge.stderr());
  for (const pid of ffmpegs) t.false(await alive(pid), `ffmpeg ${pid} still runs`);
  const sent = sentCount(bridge.stderr());
  t.true(sent >= 52, bridge.stderr());
  const all = await collect(brokers, topic, (got) => got.length >= sent, 30_000);
  t.is(all.length, sent, 'every frame the bridge counted is in the topic');
  checkSequence(t, all, 'cam-http');
});

test.serial('a camera that stalls (connection open, no frames) is reconnected after --stall-timeout-ms', async (t) => {
  const stream = await readFile(await makeVideo('stall.ts', 10, ['-c:v', 'mpeg2video', '-f', 'mpegts']));
  const camera = await cameraServer(stream, (n) => (n === 1 ? 'full' : 'hold'));
  t.teardown(camera.close);
  const topic = uniqueName('cam');
  await createTopics(brokers, [topic], 1);
  const bridge = startBridge([
    camera.url,
    '--topic',
    topic,
    '--fps',
    '5',
    '--stream-id',
    'cam-stall',
    '--retry-initial-ms',
    '200',
    '--stall-timeout-ms',
    '1500',
  ]);
  t.teardown(() => bridge.proc.kill('SIGKILL'));
  // More than the held connection gave (at most 30) plus a whole one (50): the stall was left.
  const early = await collect(brokers, topic, (all) => all.length >= 52, 90_000);
  t.true(early.length >= 52, `${early.length} frames arrived; bridge said:\n${bridge.stderr()}`);
  t.regex(bridge.stderr(), /no frame from ffmpeg for 1500 ms \(the stream stalled\)/);
  bridge.proc.kill('SIGTERM');
  t.is(await bridge.exit(20_000), 0, bridge.stderr());
  const all = await collect(brokers, topic, (got) => got.length >= sentCount(bridge.stderr()), 30_000);
  checkSequence(t, all, 'cam-stall');
});

test.serial('a camera URL that never works ends after --max-retries with a clear error and exit status 1', async (t) => {
  const camera = await cameraServer(Buffer.alloc(0), () => 'missing');
  t.teardown(camera.close);
  const topic = uniqueName('cam');
  await createTopics(brokers, [topic], 1);
  const bridge = startBridge([camera.url, '--topic', topic, '--max-retries', '2', '--retry-initial-ms', '100', '--retry-max-ms', '200']);
  t.is(await bridge.exit(60_000), 1, bridge.stderr());
  t.is(camera.requests.length, 3, 'the first try and 2 reconnects');
  t.is(bridge.stderr().match(/reconnect attempt \d\/2 in \d+ ms/g)?.length, 2, bridge.stderr());
  t.true(bridge.stderr().includes(`gave up after 2 reconnect attempt(s) in a row without a frame`), bridge.stderr());
  t.true(bridge.stderr().includes(camera.url), bridge.stderr());
  t.regex(bridge.stderr(), /404 Not Found/);
});
