import { ConfigError, OgclipError } from '../errors.js';
import type { FrameRecord } from '../record.js';
import type { SourceComponent } from '../topology/component.js';
import { ffmpegJpegs, hasScheme, isLiveUrl, type FfmpegJpegs } from './ffmpeg-frames.js';
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

/**
 * The frames of a video file or stream, sampled at `fps` by ffmpeg and handed on as JPEG images
 * (src/sources/ffmpeg-frames.ts), one record per image, in stream order.
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
  const live = isLiveUrl(url);
  let stopped = false;
  let jpegs: FfmpegJpegs | undefined;

  return {
    name: `video:${url}`,
    async *frames() {
      if (stopped) return;
      jpegs = ffmpegJpegs({ url, fps, limit, what: `video source ${url}`, error: (m) => new VideoSourceError(m) });
      let index = 0;
      let start: number | undefined;
      for await (const payload of jpegs) {
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
      }
    },
    ack: async () => {},
    stop: () => {
      stopped = true;
      jpegs?.stop();
    },
    close: async () => {
      stopped = true;
      jpegs?.stop();
      await jpegs?.exited();
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
