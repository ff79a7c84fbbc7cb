import { concatMap, from, type OperatorFunction } from 'rxjs';
import { RunFailedError } from '../errors.js';
import { fail, type FrameRecord, type StageName } from '../record.js';
import { batchBySizeAndTime, type BatchOptions } from './batch-by-size-and-time.js';
import { mapConcurrentOrdered } from './map-concurrent-ordered.js';

/**
 * How a model stage batches frames: at most maxSize a batch, waiting at most maxWaitMs to fill
 * one, `concurrency` batches in flight at once (default 1; one per inference worker).
 */
export interface ModelBatching {
  readonly maxSize: number;
  readonly maxWaitMs: number;
  readonly concurrency?: number;
}

/** `scheduler` (from BatchOptions) times the batching wait and clocks `timings[stage]`. */
export interface InferOptions extends BatchOptions {
  readonly stage: StageName;
  readonly concurrency: number; // batches in flight at once
  /** Works on the healthy records of one batch, adding to them; may fail single records itself. */
  readonly run: (records: FrameRecord[]) => Promise<void>;
}

/**
 * The skeleton of every model stage: micro-batch the records, skip the ones that already
 * failed, run inference, and turn a thrown error into an error on each record of the batch
 * (data for the dead-letter sink) instead of an error that would end the stream. Order is kept.
 * Only a RunFailedError (the runtime itself is gone) ends the stream.
 */
export function inferInBatches(options: InferOptions): OperatorFunction<FrameRecord, FrameRecord> {
  const { stage, run, scheduler } = options;
  // Without a scheduler, performance.now(): sub-millisecond timings, which asyncScheduler's Date.now() lacks.
  const now = scheduler ? () => scheduler.now() : () => performance.now();
  return (source) =>
    source.pipe(
      batchBySizeAndTime<FrameRecord>(options),
      mapConcurrentOrdered(async (batch) => {
        const healthy = batch.filter((r) => !r.error);
        if (healthy.length > 0) {
          const t0 = now();
          try {
            await run(healthy);
          } catch (err) {
            if (err instanceof RunFailedError) throw err; // not these frames' fault: the run ends, they stay uncommitted
            for (const r of healthy) fail(r, stage, 'inference-failed', (err as Error).message ?? String(err));
          }
          const dt = now() - t0;
          for (const r of healthy) r.timings[stage] = (r.timings[stage] ?? 0) + dt / healthy.length;
        }
        return batch;
      }, options.concurrency),
      concatMap((batch) => from(batch)),
    );
}
