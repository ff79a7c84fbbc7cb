import type { Kafka, Message } from 'kafkajs';
import { ensureTopics } from '../src/kafka/ensure-topics.js';

/** Creates the topics (one replica, P partitions, 16 MB messages) and waits for their leaders. */
export async function createBenchTopics(kafka: Kafka, topics: readonly string[], partitions: number): Promise<void> {
  await ensureTopics(kafka, topics, { partitions, maxMessageBytes: 16 * 2 ** 20, replicationFactor: 1 });
}

/** Sends the messages to the topic, 50 at a time, acknowledged by all in-sync replicas. */
export async function produceAll(kafka: Kafka, topic: string, messages: readonly Message[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 50) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 50) });
  } finally {
    await producer.disconnect();
  }
}
