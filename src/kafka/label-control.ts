import { randomUUID } from 'node:crypto';
import { kafkaClient } from './kafka-client.js';
import type { LabelSet } from '../models/label-set.js';
import type { LabelsControlMessage } from '../schema/types/labels-control.js';
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
 * A message may also replace the label template (`template`, with {} where the label goes).
 */
export async function followLabelControl(o: LabelControlOptions): Promise<{ applied: () => number; close(): Promise<void> }> {
  const log = o.log ?? (() => {});
  const consumer = kafkaClient(o.brokers, 'ogclip-labels').consumer({ groupId: `ogclip-labels-${randomUUID()}` });
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
      const control = doc as LabelsControlMessage;
      try {
        await o.labels.replace(control.labels, control.template);
      } catch (err) {
        // A message the schema lets through but the label set refuses (only blank labels, a
        // template without {}) is skipped like an invalid one: thrown, kafkajs would retry it forever.
        return log(`labels: message at offset ${message.offset} ignored: ${(err as Error).message}`);
      }
      applied++;
      log(`labels: now ${o.labels.labels.length} labels (version ${o.labels.version})`);
    },
  });
  return { applied: () => applied, close: () => consumer.disconnect() };
}
