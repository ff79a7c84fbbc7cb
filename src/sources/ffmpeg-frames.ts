import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ConfigError } from '../errors.js';

export interface FfmpegJpegsOptions {
  /** A video file's path, or a URL ffmpeg reads (rtsp://, http://, ...). */
  readonly url: string;
  /** Frames sampled per second of the stream (ffmpeg's `fps` filter). */
  readonly fps: number;
  /** Stop after this many images; 0: no limit. */
  readonly limit: number;
  /** Read the input at its own frame rate (ffmpeg's `-re`): a file then plays like a camera. */
  readonly realtime?: boolean;
  /** Read the input again from its start when it ends (ffmpeg's `-stream_loop -1`; files only). */
  readonly loop?: boolean;
  /**
   * Fail when ffmpeg writes nothing for this long while the images are being pulled (a stream
   * that stalls without closing); 0 or absent: wait for ever. Only the time spent waiting on
   * ffmpeg counts, not the time the consumer takes with an image.
   */
  readonly stallTimeoutMs?: number;
  /** What an error message starts with, e.g. `video source clip.mp4`. */
  readonly what: string;
  /** The error thrown when ffmpeg fails, given its message (so each user keeps its own class). */
  readonly error: (message: string) => Error;
}

/** JPEG images of a video, one ffmpeg process; see ffmpegJpegs. */
export interface FfmpegJpegs extends AsyncIterable<Uint8Array> {
  /** Kills ffmpeg; iteration ends without an error. */
  stop(): void;
  /** Resolves once ffmpeg has exited (at once when it was never started). */
  exited(): Promise<void>;
}

const stderrLinesKept = 20;
const stderrLinesReported = 8;

/** Whether `url` names a scheme (rtsp://, http://, file://, ...) rather than a plain path. */
export const hasScheme = (url: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(url);

/** Whether `url` is a live stream (a URL other than file://) rather than a file. */
export const isLiveUrl = (url: string): boolean => hasScheme(url) && !url.toLowerCase().startsWith('file:');

/** The ffmpeg binary: `OGCLIP_FFMPEG` when set, else the one of @ffmpeg-installer/linux-x64. */
export function ffmpegPath(): string {
  const override = process.env.OGCLIP_FFMPEG;
  if (override) return override;
  const pkg = createRequire(import.meta.url).resolve('@ffmpeg-installer/linux-x64/package.json');
  return join(dirname(pkg), 'ffmpeg');
}

/**
 * Where the JPEG image starting at `start` (its SOI, FF D8) ends: the index just past its EOI
 * (FF D9), or -1 when `buf` does not hold all of it yet. Walks the marker segments by their
 * lengths and, after SOS, the entropy-coded data (where FF is followed by 00 or a restart marker),
 * so that an FF D9 inside a table is not taken for the end.
 */
export function jpegEnd(buf: Uint8Array, start: number): number {
  let pos = start + 2;
  for (;;) {
    if (pos + 2 > buf.length) return -1;
    if (buf[pos] !== 0xff) throw new Error(`not a JPEG marker at byte ${pos - start} of a frame`);
    const marker = buf[pos + 1]!;
    if (marker === 0xff) {
      pos += 1; // fill byte
      continue;
    }
    if (marker === 0xd9) return pos + 2;
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2;
      continue;
    }
    if (pos + 4 > buf.length) return -1;
    pos += 2 + ((buf[pos + 2]! << 8) | buf[pos + 3]!);
    if (marker !== 0xda) continue;
    // Entropy-coded data, up to the next marker that is not stuffing (FF 00) nor a restart.
    for (;;) {
      if (pos + 2 > buf.length) return -1;
      if (buf[pos] === 0xff) {
        const next = buf[pos + 1]!;
        if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) pos += 2;
        else break;
      } else pos += 1;
    }
  }
}

/** ffmpeg's arguments: sample at `fps`, write JPEG images back to back on stdout. */
export function ffmpegArgs(o: Pick<FfmpegJpegsOptions, 'url' | 'fps' | 'limit' | 'realtime' | 'loop'>): string[] {
  const args = ['-nostdin', '-hide_banner', '-loglevel', 'error'];
  if (o.url.startsWith('rtsp://')) args.push('-rtsp_transport', 'tcp');
  if (o.realtime) args.push('-re');
  if (o.loop) args.push('-stream_loop', '-1');
  args.push('-i', o.url, '-vf', `fps=${o.fps}`);
  if (o.limit > 0) args.push('-frames:v', String(o.limit));
  args.push('-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', '3', 'pipe:1');
  return args;
}

/**
 * The frames of a video file or stream, sampled at `fps` by one ffmpeg process and handed on as
 * JPEG images (`-f image2pipe -c:v mjpeg`), in stream order; ffmpeg starts when iteration does,
 * and a second iteration starts nothing. ffmpeg's stdout is read only while the consumer pulls,
 * so a slow consumer pauses ffmpeg (for a file) instead of buffering the whole video.
 *
 * When ffmpeg fails (exits non-zero, or reports errors while reading: a truncated file, an
 * unreachable URL, a stream that breaks) or stalls past `stallTimeoutMs`, the images it produced
 * are yielded, then iteration throws `error(...)` with `what`, why, and ffmpeg's last stderr
 * lines. `stop()` kills ffmpeg and ends iteration without an error; the process is always killed
 * and waited for when iteration ends, however it ends.
 */
export function ffmpegJpegs(options: FfmpegJpegsOptions): FfmpegJpegs {
  const { fps, limit, what, stallTimeoutMs = 0 } = options;
  if (!Number.isFinite(fps) || fps <= 0) throw new ConfigError(`${what}: fps must be > 0, got ${fps}`);
  if (!Number.isInteger(limit) || limit < 0) throw new ConfigError(`${what}: limit must be an integer >= 0, got ${limit}`);
  if (!Number.isFinite(stallTimeoutMs) || stallTimeoutMs < 0) {
    throw new ConfigError(`${what}: the stall timeout must be a number of ms >= 0, got ${stallTimeoutMs}`);
  }
  if (stallTimeoutMs > 0 && stallTimeoutMs <= 1000 / fps) {
    throw new ConfigError(`${what}: the stall timeout (${stallTimeoutMs} ms) must be longer than one frame interval at ${fps} fps`);
  }
  let stopped = false;
  let started = false;
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const kill = () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };

  async function* images(): AsyncGenerator<Uint8Array> {
    if (stopped || started) return;
    started = true;
    const child = spawn(ffmpegPath(), ffmpegArgs(options), { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = child;
    const stderrLines: string[] = [];
    let stderrRest = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      const lines = (stderrRest + text).split(/\r?\n/);
      stderrRest = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) stderrLines.push(line);
      if (stderrLines.length > stderrLinesKept) stderrLines.splice(0, stderrLines.length - stderrLinesKept);
    });
    let spawnError: Error | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const processDone = new Promise<void>((done) => {
      child.once('error', (err) => {
        spawnError = err;
        done();
      });
      child.once('close', (code, signal) => {
        exit = { code, signal };
        done();
      });
    });
    exited = processDone;

    const failure = (why: string) => {
      const tail = [...stderrLines, ...(stderrRest.trim() ? [stderrRest] : [])].slice(-stderrLinesReported);
      return options.error(`${what}: ${why}${tail.length ? `; ffmpeg said:\n  ${tail.join('\n  ')}` : ''}`);
    };

    let index = 0;
    // The next chunk of stdout, or a stall failure when none comes within stallTimeoutMs.
    const chunks = (child.stdout as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    const nextChunk = async (): Promise<IteratorResult<Buffer>> => {
      const next = chunks.next();
      if (stallTimeoutMs <= 0) return next;
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<'stalled'>((resolve) => (timer = setTimeout(() => resolve('stalled'), stallTimeoutMs)));
      try {
        const first = await Promise.race([next, stalled]);
        if (first !== 'stalled') return first;
      } finally {
        clearTimeout(timer);
      }
      next.catch(() => {}); // settles once the stream is destroyed below
      kill();
      throw failure(`no frame from ffmpeg for ${stallTimeoutMs} ms (the stream stalled) after ${index} frames`);
    };

    let buf: Buffer = Buffer.alloc(0);
    try {
      for (;;) {
        const step = await nextChunk();
        if (step.done) break;
        buf = buf.length ? Buffer.concat([buf, step.value]) : step.value;
        let offset = 0;
        for (;;) {
          if (stopped) return;
          if (buf.length - offset < 2) break;
          if (buf[offset] !== 0xff || buf[offset + 1] !== 0xd8) {
            throw failure(`ffmpeg wrote something that is not a JPEG image after frame ${index}`);
          }
          const end = jpegEnd(buf, offset);
          if (end < 0) break;
          const payload = Uint8Array.prototype.slice.call(buf, offset, end);
          offset = end;
          index += 1;
          yield payload;
          if (stopped) return;
          if (limit > 0 && index >= limit) return;
        }
        buf = offset ? buf.subarray(offset) : buf;
      }
      await processDone;
      if (stopped) return;
      if (spawnError) throw failure(`could not start ffmpeg (${ffmpegPath()}): ${spawnError.message}`);
      if (exit && (exit.code !== 0 || exit.signal)) {
        throw failure(`ffmpeg ${exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`} after ${index} frames`);
      }
      if (stderrLines.length || stderrRest.trim()) throw failure(`ffmpeg reported errors after ${index} frames`);
      if (buf.length) throw failure(`the stream ended inside a JPEG image after ${index} frames`);
    } finally {
      kill();
      child.stdout.destroy();
      await processDone;
    }
  }

  return {
    [Symbol.asyncIterator]: () => images(),
    stop: () => {
      stopped = true;
      kill();
    },
    exited: () => exited,
  };
}
