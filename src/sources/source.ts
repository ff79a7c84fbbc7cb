import type { FrameRecord } from '../record.js';

/**
 * Where frames come from. `frames()` is pulled by the pipeline only as fast as its in-flight
 * gate allows. `ack()` is called for every record, in the source's order, once all sinks hold
 * its outputs (or its dead letter): a Kafka source commits offsets there.
 */
export interface FrameSource {
  readonly name: string;
  frames(): AsyncIterable<FrameRecord>;
  ack(record: FrameRecord): Promise<void>;
  /** Stop producing: iteration ends after the frames already taken. */
  stop(): void;
  close(): Promise<void>;
}
