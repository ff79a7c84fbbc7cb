import type { Kafka } from 'kafkajs';

export interface TopicSettings {
  /** Partitions of each new topic: the most consumers of one group that can share it. */
  readonly partitions: number;
  /** Largest message a new topic takes (frames travel inline up to this size). */
  readonly maxMessageBytes: number;
  /** Replicas of each new topic; -1: the broker's default.replication.factor. */
  readonly replicationFactor: number;
}

/**
 * Creates the topics among `names` that do not exist yet and waits for their partitions'
 * leaders; existing topics are left as they are. Returns the names it created.
 */
export async function ensureTopics(kafka: Kafka, names: readonly string[], settings: TopicSettings): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const todo = names.filter((n) => !existing.has(n));
    if (todo.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: todo.map((topic) => ({
          topic,
          numPartitions: settings.partitions,
          replicationFactor: settings.replicationFactor,
          configEntries: [{ name: 'max.message.bytes', value: String(settings.maxMessageBytes) }],
        })),
      });
    }
    return todo;
  } finally {
    await admin.disconnect();
  }
}
