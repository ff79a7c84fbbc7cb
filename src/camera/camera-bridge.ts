import { ConfigError, OgclipError } from '../errors.js';
import { ffmpegJpegs, isLiveUrl, type FfmpegJpegs } from '../sources/ffmpeg-frames.js';
import { backoffDelay, checkBackoff, type BackoffOptions } from './backoff.js';
import { frameMessage, type FrameMessage, type KeyBy } from '../kafka/frame-message.js';

export interface CameraOptions {
  /** A camera URL (rtsp://, http://, ...) or a video file. */
  readonly url: string;
  /** Frames sampled per second. */
  readonly fps: number;
  readonly streamId: string;
  readonly keyBy: KeyBy;
  /** A live URL only: how long without a frame counts as a dropped stream; 0: never. */
  readonly stallTimeoutMs: number;
  /** Reconnects in a row that bring no frame before giving up; Infinity: never give up. */
  readonly maxRetries: number;
  readonly backoff: BackoffOptions;
  /** A file only: play it again from the start when it ends. */
  readonly loop: boolean;
  /** A file only: play it at its own frame rate, like a camera (else as fast as ffmpeg decodes). */
  readonly realtime: boolean;
  /** Stop after this many frames; 0: no limit. */
  readonly limit: number;
}

export interface CameraStats {
  /** Frames handed to `send` and acknowledged by it. */
  frames: number;
  /** Reconnect attempts made (each one a new ffmpeg after the stream dropped). */
  reconnects: number;
}

export interface CameraBridge {
  /** Ends the bridge: ffmpeg is killed, the frame being sent finishes, `done` resolves. */
  stop(): void;
  /** The counts once the bridge ended; rejects with a CameraError (gave up, bad file) or a send error. */
  readonly done: Promise<CameraStats>;
  readonly stats: Readonly<CameraStats>;
}

/** The camera could not be read: a file ffmpeg failed on, or a URL that did not come back. */
export class CameraError extends OgclipError {}

export interface CameraDeps {
  /** Publishes one frame; resolves once it is stored (for Kafka: acknowledged). */
  readonly send: (message: FrameMessage) => Promise<void>;
  readonly log: (line: string) => void;
  readonly random?: () => number;
  /** Wall clock, epoch ms (capture times and frame id prefix). */
  readonly now?: () => number;
}

/** Checks the options at build: every problem a flag can have is a ConfigError saying what to change. */
function checkOptions(o: CameraOptions, what: string): void {
  const live = isLiveUrl(o.url);
  if (!Number.isFinite(o.fps) || o.fps <= 0) throw new ConfigError(`${what}: --fps must be > 0, got ${o.fps}`);
  if (!o.streamId) throw new ConfigError(`${what}: --stream-id must not be empty`);
  if (!(o.maxRetries === Infinity || (Number.isInteger(o.maxRetries) && o.maxRetries >= 0))) {
    throw new ConfigError(`${what}: --max-retries must be an integer >= 0 (or --forever), got ${o.maxRetries}`);
  }
  if (!Number.isInteger(o.limit) || o.limit < 0) throw new ConfigError(`${what}: --limit must be an integer >= 0, got ${o.limit}`);
  if (o.loop && live) throw new ConfigError(`${what}: --loop is for video files; a camera URL is read again after every drop anyway`);
  checkBackoff(o.backoff, what);
  // ffmpegJpegs checks the stall timeout against the frame interval.
  ffmpegJpegs({
    url: o.url,
    fps: o.fps,
    limit: o.limit,
    stallTimeoutMs: live ? o.stallTimeoutMs : 0,
    what,
    error: (m) => new CameraError(m),
  });
}

/**
 * Reads a camera or a video file with ffmpeg at `fps` and sends each JPEG image as a frame
 * message, until the input ends (a file), `stop()`, or the camera stays away.
 *
 * - Frame ids are `<start>-<n>`: the bridge's start time (epoch ms, 13 digits) and a counter
 *   from 00000000 that goes on across reconnects, so an id is never reused, not even by a later
 *   run of the bridge for the same stream (outputs are keyed by stream and frame id, and a
 *   reused id would overwrite an older frame's detections on a compacted topic).
 * - Capture time (`ogclip-timestamp`): the wall-clock time at which the bridge read the image
 *   from ffmpeg, made strictly increasing (1 ms after the previous one if the clock has not
 *   moved on). Not the stream's own timestamps: they restart with each reconnect and few cameras
 *   send a wall-clock reference ffmpeg would pass on, so they could not be compared across a
 *   reconnect. The read time is later than the exposure by the camera's encoding, the network
 *   and ffmpeg's decoding, and by any time a send took (images wait in ffmpeg's pipe meanwhile).
 * - A live URL: any end of the stream is a drop (ffmpeg failing, the server closing, no frame
 *   for `stallTimeoutMs`). The bridge reconnects after `backoffDelay` (exponential, jitter, cap),
 *   logging each attempt; an attempt that brings a frame resets the count, and after
 *   `maxRetries` attempts in a row without one it gives up with a CameraError.
 * - A file: ends at its end (played again with `loop`); an ffmpeg failure ends the bridge with a
 *   CameraError, without retrying.
 * - A send that fails ends the bridge with that error (the Kafka client has retried already).
 */
export function startCameraBridge(o: CameraOptions, deps: CameraDeps): CameraBridge {
  const what = `camera ${o.streamId} (${o.url})`;
  checkOptions(o, what);
  const live = isLiveUrl(o.url);
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const runPrefix = String(now()).padStart(13, '0');
  const stats: CameraStats = { frames: 0, reconnects: 0 };
  let stopped = false;
  let current: FfmpegJpegs | undefined;
  let wake: (() => void) | undefined;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  async function run(): Promise<CameraStats> {
    let lastCapture = 0;
    let failuresInARow = 0;
    while (!stopped) {
      const jpegs = ffmpegJpegs({
        url: o.url,
        fps: o.fps,
        limit: o.limit > 0 ? o.limit - stats.frames : 0,
        realtime: !live && o.realtime,
        loop: !live && o.loop,
        stallTimeoutMs: live ? o.stallTimeoutMs : 0,
        what,
        error: (m) => new CameraError(m),
      });
      current = jpegs;
      let frames = 0;
      let failure: Error | undefined;
      try {
        for await (const payload of jpegs) {
          const capturedAt = Math.max(now(), lastCapture + 1);
          lastCapture = capturedAt;
          const frameId = `${runPrefix}-${String(stats.frames).padStart(8, '0')}`;
          await deps.send(frameMessage({ streamId: o.streamId, frameId, capturedAt, payload, contentType: 'image/jpeg' }, o.keyBy));
          stats.frames += 1;
          frames += 1;
          if (frames === 1 && failuresInARow > 0) deps.log(`${what}: frames again after ${failuresInARow} reconnect attempt(s)`);
          if (o.limit > 0 && stats.frames >= o.limit) stopped = true;
        }
      } catch (err) {
        if (!(err instanceof CameraError)) throw err; // a send failure: not the camera's
        failure = err;
      } finally {
        current = undefined;
      }
      if (stopped) break;
      if (!live) {
        if (failure) throw failure;
        break;
      }
      failuresInARow = frames > 0 ? 1 : failuresInARow + 1;
      const why = failure ? failure.message.replace(`${what}: `, '') : `the stream ended after ${frames} frames`;
      if (failuresInARow > o.maxRetries) {
        throw new CameraError(
          `${what}: gave up after ${o.maxRetries} reconnect attempt(s) in a row without a frame (raise --max-retries, or --forever); last: ${why}`,
        );
      }
      const delay = backoffDelay(failuresInARow, o.backoff, random);
      const of = o.maxRetries === Infinity ? '' : `/${o.maxRetries}`;
      deps.log(`${what}: reconnect attempt ${failuresInARow}${of} in ${delay} ms (${stats.frames} frames so far): ${why}`);
      await pause(delay);
      if (!stopped) stats.reconnects += 1;
    }
    return stats;
  }

  return {
    stop: () => {
      stopped = true;
      current?.stop();
      wake?.();
    },
    done: run().finally(() => current?.stop()),
    stats,
  };
}
