import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { LabelSet } from '../models/label-set.js';
import { validate } from '../schema/validator.js';

export interface LabelControlOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly labels: LabelSet;
  readonly log?: (line: string) => void;
}

/**
 * Follows a control topic and replaces the label set with each valid message (schemas/
 * labels-control.schema.json), without a restart. Every pipeline reads the whole topic (its
 * own consumer group), so the newest message wins everywhere. Bad messages are logged and skipped.
 */
export async function followLabelControl(o: LabelControlOptions): Promise<{ applied: () => number; close(): Promise<void> }> {
  const log = o.log ?? (() => {});
  const kafka = new Kafka({ clientId: 'ogclip-labels', brokers: [...o.brokers], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `ogclip-labels-${randomUUID()}` });
  let applied = 0;
  await consumer.connect();
  await consumer.subscribe({ topic: o.topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      let doc: unknown;
      try {
        doc = JSON.parse(message.value?.toString('utf8') ?? '');
      } catch {
        return log(`labels: message at offset ${message.offset} is not JSON; ignored`);
      }
      const problems = validate('labels-control', doc);
      if (problems.length) return log(`labels: message at offset ${message.offset} ignored: ${problems.join('; ')}`);
      await o.labels.replace((doc as { labels: string[] }).labels);
      applied++;
      log(`labels: now ${o.labels.labels.length} labels (version ${o.labels.version})`);
    },
  });
  return { applied: () => applied, close: () => consumer.disconnect() };
}
