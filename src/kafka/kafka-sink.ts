import { CompressionTypes, type Message, type Producer } from 'kafkajs';
import { kafkaClient } from './kafka-client.js';
import { OgclipError } from '../errors.js';
import { recordKey, type FrameRecord } from '../record.js';
import { detectionsMessage, objectsMessage } from '../sinks/messages.js';
import type { Sink, SinkContext } from '../sinks/sink.js';
import type { SinkComponent } from '../topology/component.js';
import type { JsonlContent } from '../sinks/jsonl-sink.js';
import type { OutputTransaction } from './exactly-once-delivery.js';

export interface KafkaSinkOptions {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly content: JsonlContent; // objects | detections | dead-letters
  readonly clientId: string;
  /** delivery: exactly-once: the messages go into the input partition's transaction instead of a send of their own. */
  readonly transaction?: OutputTransaction;
}

/** Dead-letter headers: why the frame failed and where it came from. */
export const DLQ_HEADERS = {
  stage: 'ogclip-error-stage',
  code: 'ogclip-error-code',
  message: 'ogclip-error-message',
  topic: 'ogclip-source-topic',
  partition: 'ogclip-source-partition',
  offset: 'ogclip-source-offset',
  failedAt: 'ogclip-failed-at',
} as const;

function deadLetter(r: FrameRecord, ctx: SinkContext): Message {
  const e = r.error!;
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  headers[DLQ_HEADERS.stage] = e.stage;
  headers[DLQ_HEADERS.code] = e.code;
  headers[DLQ_HEADERS.message] = e.message;
  headers[DLQ_HEADERS.failedAt] = new Date().toISOString();
  if (r.origin.kind === 'kafka') {
    headers[DLQ_HEADERS.topic] = r.origin.topic;
    headers[DLQ_HEADERS.partition] = String(r.origin.partition);
    headers[DLQ_HEADERS.offset] = r.origin.offset;
  }
  // The original message, byte for byte, so it can be fixed and replayed.
  return { key: recordKey(r, ctx.modelVersion), value: Buffer.from(r.original ?? r.payload), headers };
}

function output(r: FrameRecord, ctx: SinkContext, content: 'objects' | 'detections'): Message {
  const body = content === 'objects' ? objectsMessage(r, ctx) : detectionsMessage(r, ctx);
  return {
    key: body.key, // stable: a replayed archive overwrites (compacted topics) instead of duplicating
    value: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(r.traceparent ? { traceparent: r.traceparent } : {}) },
  };
}

/**
 * Publishes objects, detections or dead letters. Idempotent producer, acks from all in-sync
 * replicas; `write` resolves only once Kafka acknowledged, so offsets are committed after.
 * In exactly-once delivery it has no producer: `write` leaves each message with the source's
 * transaction of the frame's partition, which sends it with the offsets once the frame is acked.
 */
export async function kafkaSink(o: KafkaSinkOptions): Promise<Sink> {
  const messageOf = (r: FrameRecord, ctx: SinkContext): Message | undefined => {
    if (o.content === 'dead-letters') return r.error ? deadLetter(r, ctx) : undefined;
    return r.error ? undefined : output(r, ctx, o.content as 'objects' | 'detections');
  };
  const transaction = o.transaction;
  if (transaction) {
    await transaction.requireTopic(o.topic);
    return {
      name: `kafka:${o.content}:${o.topic}`,
      write: async (records, ctx) => {
        // Every message built before any is staged: a build that throws fails the write (which the
        // pipeline retries) with none of the batch staged, instead of staging the first ones twice.
        const built = records.map((r) => [r, messageOf(r, ctx)] as const);
        for (const [r, m] of built) if (m) transaction.stage(r, o.topic, m);
      },
      close: async () => {},
    };
  }
  const producer: Producer = kafkaClient(o.brokers, o.clientId).producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  return {
    name: `kafka:${o.content}:${o.topic}`,
    async write(records, ctx) {
      const messages = records.map((r) => messageOf(r, ctx)).filter((m) => m !== undefined);
      if (messages.length === 0) return;
      try {
        await producer.send({ topic: o.topic, acks: -1, compression: CompressionTypes.None, messages });
      } catch (err) {
        // Only the broker's own verdict that a request can never pass (a protocol error marked
        // non-retriable: a message larger than the topic takes, no such topic, not authorised)
        // ends the run at once. kafkajs also marks its own retries running out, and connection
        // errors it gave up on, as final; a broker down for a while may come back within the
        // pipeline's slower retries, so those are retried.
        const e = err as { retriable?: unknown; name?: unknown; type?: unknown };
        const retriable = !(e.name === 'KafkaJSProtocolError' && e.retriable === false);
        throw new OgclipError(`kafka sink ${o.topic}: ${(err as Error).message}`, { retriable, cause: err });
      }
    },
    close: () => producer.disconnect(),
  };
}

/** `kind: kafka` in a topology's sinks. */
export const kafkaSinkComponent: SinkComponent<'kafka'> = {
  kind: 'kafka',
  create: (o, { transaction }) => kafkaSink({ ...o, ...(transaction ? { transaction } : {}) }),
};
