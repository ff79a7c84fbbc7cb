import { Kafka, logLevel, type RetryOptions } from 'kafkajs';
import { ConfigError } from '../errors.js';

/** How every ogclip Kafka client retries broker requests (a broker restart or a leader move). */
export const KAFKA_RETRY: RetryOptions = { initialRetryTime: 300, retries: 10 };

/**
 * The one place a kafkajs client is made: sources, sinks, label control and the CLI share its
 * settings, so moving to another Kafka client is a change inside src/kafka/ only.
 */
export function kafkaClient(brokers: readonly string[], clientId: string): Kafka {
  if (brokers.length === 0) throw new ConfigError(`${clientId}: at least one Kafka broker (host:port) is needed`);
  return new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING, retry: KAFKA_RETRY });
}
