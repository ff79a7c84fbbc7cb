import { readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { Kafka } from 'kafkajs';
import { ensureTopics } from '../kafka/ensure-topics.js';
import { kafkaClient } from '../kafka/kafka-client.js';
import { ConfigError } from '../errors.js';
import { readDataset } from '../sources/dataset-replay-source.js';
import { contentTypeOf } from '../sources/content-type.js';
import { frameMessage } from '../kafka/frame-message.js';

const brokersOption = (v: string) =>
  v
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);

function client(brokers: string[], id: string): Kafka {
  if (brokers.length === 0) throw new ConfigError('--brokers needs at least one host:port');
  return kafkaClient(brokers, id);
}

/** Image files of a dataset (dataset.json inside) or of a plain folder, in a stable order. */
async function framesOf(path: string): Promise<{ path: string; frameId: string }[]> {
  const p = resolve(path);
  const files = await readdir(p).catch(() => {
    throw new ConfigError(`${p}: not a folder`);
  });
  if (files.includes('dataset.json')) {
    return (await readDataset(p)).map((e) => ({ path: e.imagePath, frameId: String(e.index) }));
  }
  const out: { path: string; frameId: string }[] = [];
  for (const f of files.sort()) if ((await stat(join(p, f))).isFile()) out.push({ path: join(p, f), frameId: f });
  return out;
}

export function registerKafka(program: Command): void {
  program
    .command('produce')
    .description('push the images of a folder or dataset to a topic (raw bytes + headers)')
    .argument('<dir>', 'folder of images, or a dataset folder with dataset.json')
    .requiredOption('--topic <name>', 'input topic')
    .option('--brokers <list>', 'comma-separated host:port', brokersOption, ['127.0.0.1:9092'])
    .option('--stream <id>', 'stream id header', 'archive')
    .addOption(
      new Option(
        '--key <by>',
        'message key, which picks the partition: frame (streamId/frameId) spreads an archive over every partition, ' +
          'so that the consumers of a group share it, in no particular order; stream keeps one stream on one partition, in order',
      )
        .choices(['frame', 'stream'])
        .default('frame'),
    )
    .option('--limit <n>', 'at most n frames', (v) => Number.parseInt(v, 10))
    .action(async (dir: string, o: { topic: string; brokers: string[]; stream: string; key: 'frame' | 'stream'; limit?: number }) => {
      const frames = (await framesOf(dir)).slice(0, o.limit ?? Infinity);
      const producer = client(o.brokers, 'ogclip-produce').producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      try {
        for (let i = 0; i < frames.length; i += 32) {
          const chunk = frames.slice(i, i + 32);
          const messages = await Promise.all(
            chunk.map(async (f) =>
              frameMessage(
                {
                  streamId: o.stream,
                  frameId: f.frameId,
                  capturedAt: Date.now(),
                  payload: await readFile(f.path),
                  contentType: contentTypeOf(f.path) ?? 'application/octet-stream',
                },
                o.key,
              ),
            ),
          );
          await producer.send({ topic: o.topic, acks: -1, messages });
        }
        process.stderr.write(`produced ${frames.length} frames to ${o.topic}\n`);
      } finally {
        await producer.disconnect();
      }
    });

  program
    .command('tail')
    .description('subscribe to a detections (or objects) topic and print one line per frame')
    .argument('<topic>')
    .option('--brokers <list>', 'comma-separated host:port', brokersOption, ['127.0.0.1:9092'])
    .option('--from-beginning', 'read the topic from its start', false)
    .option('--json', 'print the messages as they are', false)
    .option('--max <n>', 'exit after n messages', (v) => Number.parseInt(v, 10))
    .action(async (topic: string, o: { brokers: string[]; fromBeginning: boolean; json: boolean; max?: number }) => {
      // read_committed (kafkajs's default, stated because it matters): outputs of an exactly-once
      // run show up once their transaction commits, and never when it was aborted.
      const consumer = client(o.brokers, 'ogclip-tail').consumer({
        groupId: `ogclip-tail-${process.pid}-${Date.now()}`,
        readUncommitted: false,
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: o.fromBeginning });
      let seen = 0;
      await new Promise<void>((resolveDone) => {
        const stop = () => resolveDone();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        void consumer.run({
          eachMessage: async ({ message }) => {
            const text = message.value?.toString('utf8') ?? '';
            if (o.json) process.stdout.write(text + '\n');
            else {
              try {
                const m = JSON.parse(text) as { key: string; detections?: { label: string; score: number }[]; objects?: unknown[] };
                const what = m.detections
                  ? m.detections.map((d) => `${d.label} (${d.score.toFixed(2)})`).join(', ') || 'no detections'
                  : `${m.objects?.length ?? 0} objects`;
                process.stdout.write(`${m.key}: ${what}\n`);
              } catch {
                process.stdout.write(`${message.key?.toString() ?? ''}: ${text.length} bytes (not JSON)\n`);
              }
            }
            if (o.max !== undefined && ++seen >= o.max) stop();
          },
        });
      });
      await consumer.disconnect();
    });

  program
    .command('topics')
    .description('create topics if they do not exist (inputs, outputs, dead letters, label control)')
    .argument('<names...>')
    .option('--brokers <list>', 'comma-separated host:port', brokersOption, ['127.0.0.1:9092'])
    .option('--partitions <n>', 'partitions per new topic (the most consumers that can share it)', (v) => Number.parseInt(v, 10), 4)
    .option('--max-message-bytes <n>', 'largest message the topics take', (v) => Number.parseInt(v, 10), 16 * 1024 * 1024)
    .action(async (names: string[], o: { brokers: string[]; partitions: number; maxMessageBytes: number }) => {
      const todo = await ensureTopics(client(o.brokers, 'ogclip-admin'), names, {
        partitions: o.partitions,
        maxMessageBytes: o.maxMessageBytes,
        replicationFactor: -1,
      });
      process.stderr.write(`topics ready: ${names.join(', ')}${todo.length ? ` (created ${todo.join(', ')})` : ''}\n`);
    });
}
