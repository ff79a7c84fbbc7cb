import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { startCameraBridge } from '../camera/camera-bridge.js';
import type { KeyBy } from '../kafka/frame-message.js';
import { ConfigError } from '../errors.js';
import { kafkaClient } from '../kafka/kafka-client.js';
import { hasScheme } from '../sources/ffmpeg-frames.js';

interface CameraFlags {
  brokers: string[];
  topic: string;
  fps: number;
  streamId: string;
  key: KeyBy;
  maxRetries: number;
  forever: boolean;
  retryInitialMs: number;
  retryMaxMs: number;
  stallTimeoutMs: number;
  loop: boolean;
  realtime: boolean;
  limit: number;
}

const list = (v: string) =>
  v
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
const number = (v: string) => Number(v);

/** `ogclip camera <url|file>`: a camera (or a video file played like one) into a Kafka topic. */
export function registerCamera(program: Command): void {
  program
    .command('camera')
    .description(
      'read a camera (RTSP/HTTP URL) or a video file with ffmpeg, sample it at --fps and push each frame (JPEG + headers) ' +
        'to a topic; a dropped camera is reconnected with exponential back-off; SIGINT/SIGTERM end it',
    )
    .argument('<url|file>', 'camera URL (rtsp://, http://, ...) or video file')
    .option('--brokers <list>', 'comma-separated host:port', list, ['127.0.0.1:9092'])
    .option('--topic <name>', 'input topic of the pipeline', 'camera-frames')
    .option('--fps <n>', 'frames sampled per second', number, 1)
    .option('--stream-id <id>', 'stream id header of every frame', 'camera')
    .addOption(
      new Option('--key <by>', 'message key: stream (one partition per camera, in order: live mode needs it) or frame (streamId/frameId)')
        .choices(['stream', 'frame'])
        .default('stream'),
    )
    .addOption(
      new Option('--max-retries <n>', 'reconnect attempts in a row without a frame before giving up (exit status 1)')
        .argParser(number)
        .default(10)
        .conflicts('forever'),
    )
    .option('--forever', 'never give up reconnecting', false)
    .option('--retry-initial-ms <ms>', 'delay before the first reconnect; doubles with each failed one (with jitter)', number, 500)
    .option('--retry-max-ms <ms>', 'the longest delay between reconnects', number, 30_000)
    .option('--stall-timeout-ms <ms>', 'a camera URL that gives no frame for this long is reconnected; 0: never', number, 10_000)
    .option('--loop', 'video file: play it again from the start at its end (until SIGINT/SIGTERM)', false)
    .option('--no-realtime', 'video file: push frames as fast as ffmpeg decodes them, not at the video speed')
    .option('--limit <n>', 'stop after n frames; 0: no limit', number, 0)
    .action(async (input: string, o: CameraFlags) => {
      if (o.brokers.length === 0) throw new ConfigError('--brokers needs at least one host:port');
      const url = hasScheme(input) ? input : resolve(input);
      const log = (line: string) => process.stderr.write(`ogclip: ${line}\n`);
      const client = kafkaClient(o.brokers, 'ogclip-camera');
      // The sink does not create topics (the broker may not either): say so at once.
      const admin = client.admin();
      await admin.connect();
      try {
        if (!(await admin.listTopics()).includes(o.topic)) {
          throw new ConfigError(`topic ${o.topic} does not exist on ${o.brokers.join(',')}: create it with ogclip topics ${o.topic}`);
        }
      } finally {
        await admin.disconnect();
      }
      const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      try {
        const bridge = startCameraBridge(
          {
            url,
            fps: o.fps,
            streamId: o.streamId,
            keyBy: o.key,
            stallTimeoutMs: o.stallTimeoutMs,
            maxRetries: o.forever ? Infinity : o.maxRetries,
            backoff: { initialMs: o.retryInitialMs, maxMs: o.retryMaxMs },
            loop: o.loop,
            realtime: o.realtime,
            limit: o.limit,
          },
          {
            send: async (m) => void (await producer.send({ topic: o.topic, acks: -1, messages: [m] })),
            log,
          },
        );
        const stop = () => {
          log(`camera ${o.streamId}: stopping`);
          bridge.stop();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          const stats = await bridge.done;
          log(`camera ${o.streamId}: sent ${stats.frames} frames to ${o.topic}, ${stats.reconnects} reconnects`);
        } catch (err) {
          log(`camera ${o.streamId}: sent ${bridge.stats.frames} frames to ${o.topic}, ${bridge.stats.reconnects} reconnects`);
          throw err;
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      } finally {
        // Every send was awaited: disconnecting leaves nothing unsent behind.
        await producer.disconnect();
      }
    });
}
