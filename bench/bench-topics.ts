import type { Kafka, Message } from 'kafkajs';

/** Creates the topics (one replica, P partitions, 16 MB messages) and waits for their leaders. */
export async function createBenchTopics(kafka: Kafka, topics: readonly string[], partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((topic) => ({
        topic,
        numPartitions: partitions,
        replicationFactor: 1,
        configEntries: [{ name: 'max.message.bytes', value: '16777216' }],
      })),
    });
  } finally {
    await admin.disconnect();
  }
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
