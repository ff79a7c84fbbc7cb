import type { FrameRecord } from '../record.js';

/** What every sink is told besides the records. */
export interface SinkContext {
  readonly modelName: string;
  readonly modelVersion: string;
}

/**
 * A destination for the pipeline's outputs. `write` resolves once the records' outputs are
 * durable there (a file is flushed, Kafka acknowledged); only then does the source commit.
 * Each sink decides what it writes: healthy records, failed records (dead letters), or both.
 */
export interface Sink {
  readonly name: string;
  write(records: readonly FrameRecord[], ctx: SinkContext): Promise<void>;
  close(): Promise<void>;
}
