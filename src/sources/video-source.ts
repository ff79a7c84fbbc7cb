import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ConfigError, OgclipError } from '../errors.js';
import type { FrameRecord } from '../record.js';
import type { SourceComponent } from '../topology/component.js';
import type { FrameSource } from './source.js';

export interface VideoOptions {
  /** A video file's path, or a URL ffmpeg reads (rtsp://, http://, ...). */
  readonly url: string;
  /** Frames sampled per second of the stream (ffmpeg's `fps` filter). */
  readonly fps: number;
  readonly streamId: string;
  /** Stop after this many frames; 0: no limit. */
  readonly limit: number;
}

/** The video source ended because ffmpeg failed (bad file, unreachable URL, broken stream). */
export class VideoSourceError extends OgclipError {}

const stderrLinesKept = 20;
const stderrLinesReported = 8;
const hasScheme = (url: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(url);

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

/**
 * The frames of a video file or stream, sampled at `fps` by ffmpeg and handed on as JPEG images
 * (`-f image2pipe -c:v mjpeg`), one record per image, in stream order. ffmpeg's stdout is read
 * only while the pipeline pulls, so a slow pipeline pauses ffmpeg (for a file) instead of
 * buffering the whole video.
 *
 * Timestamps: frame i is taken at `i / fps` seconds of the stream. For a file (a path, or a
 * file:// URL) the timestamp is that stream-relative time in milliseconds, from 0. For a live
 * URL (rtsp://, http://, ...) it is the wall-clock time (epoch ms) of the first frame plus
 * `i / fps` seconds.
 *
 * When ffmpeg fails (exits non-zero, or reports errors while reading: a truncated file, an
 * unreachable URL, a stream that breaks), the frames it produced are yielded, then iteration
 * throws a VideoSourceError naming the url and ffmpeg's last stderr lines. `stop()` kills ffmpeg
 * and ends iteration without an error; `close()` also waits for ffmpeg to exit.
 */
export function videoSource(options: VideoOptions): FrameSource {
  const { url, fps, streamId, limit } = options;
  if (!Number.isFinite(fps) || fps <= 0) throw new ConfigError(`video source ${url}: fps must be > 0, got ${fps}`);
  if (!Number.isInteger(limit) || limit < 0) {
    throw new ConfigError(`video source ${url}: limit must be an integer >= 0, got ${limit}`);
  }
  const live = hasScheme(url) && !url.startsWith('file:');
  let stopped = false;
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const kill = () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };

  return {
    name: `video:${url}`,
    async *frames() {
      if (stopped) return;
      const args = ['-nostdin', '-hide_banner', '-loglevel', 'error'];
      if (url.startsWith('rtsp://')) args.push('-rtsp_transport', 'tcp');
      args.push('-i', url, '-vf', `fps=${fps}`);
      if (limit > 0) args.push('-frames:v', String(limit));
      args.push('-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', '3', 'pipe:1');

      const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
      exited = new Promise<void>((done) => {
        child.once('error', (error) => {
          spawnError = error;
          done();
        });
        child.once('close', (code, signal) => {
          exit = { code, signal };
          done();
        });
      });
      const processDone = exited;

      const failure = (why: string) => {
        const tail = [...stderrLines, ...(stderrRest.trim() ? [stderrRest] : [])].slice(-stderrLinesReported);
        return new VideoSourceError(`video source ${url}: ${why}${tail.length ? `; ffmpeg said:\n  ${tail.join('\n  ')}` : ''}`);
      };

      let index = 0;
      let start: number | undefined;
      let buf: Buffer = Buffer.alloc(0);
      try {
        for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
          buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
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
            const receivedAt = performance.now();
            start ??= live ? Date.now() : 0;
            const record: FrameRecord = {
              streamId,
              frameId: String(index).padStart(8, '0'),
              timestamp: start + (index * 1000) / fps,
              receivedAt,
              origin: { kind: 'file', path: url },
              payload,
              contentType: 'image/jpeg',
              timings: {},
            };
            index += 1;
            yield record;
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
        await processDone;
      }
    },
    ack: async () => {},
    stop: () => {
      stopped = true;
      kill();
    },
    close: async () => {
      stopped = true;
      kill();
      await exited;
    },
  };
}

/** `kind: video` in a topology's source: a video file or stream, sampled by ffmpeg at `fps`. */
export const videoSourceComponent: SourceComponent<'video'> = {
  kind: 'video',
  resolvePaths: (o, abs) => {
    if (!hasScheme(o.url)) o.url = abs(o.url);
  },
  create: (o) => videoSource(o),
};
