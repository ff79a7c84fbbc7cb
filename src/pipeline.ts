import { concatMap, type OperatorFunction } from 'rxjs';
import { ConfigError } from './errors.js';
import { batchBySizeAndTime, type BatchOptions } from './operators/batch-by-size-and-time.js';
import { fromGated } from './operators/from-gated.js';
import { InFlightGate } from './operators/in-flight-gate.js';
import { retry, type RetryOptions } from './operators/retry.js';
import type { FrameRecord } from './record.js';
import type { Sink, SinkContext } from './sinks/sink.js';
import type { FrameSource } from './sources/source.js';

export interface PipelineOptions {
  readonly source: FrameSource;
  readonly stages: readonly OperatorFunction<FrameRecord, FrameRecord>[];
  readonly sinks: readonly Sink[];
  readonly context: SinkContext;
  readonly maxInFlight: number; // frames between the source and the end of the sinks
  readonly sinkBatch: BatchOptions;
  readonly sinkRetry: RetryOptions;
  /** Called for each record once it is written and acknowledged (telemetry, tests). */
  readonly onDone?: (record: FrameRecord) => void;
}

export interface RunningPipeline {
  /** Resolves when the source is exhausted and every frame is written; rejects if a sink breaks. */
  readonly done: Promise<void>;
  readonly gate: InFlightGate;
  /** Stop taking frames; frames already inside finish and are acknowledged. */
  stop(): void;
}

/**
 * Source -> stages -> sinks, with at most `maxInFlight` frames inside. A frame is acknowledged
 * to its source (Kafka: offset committed) only after every sink has written it, in source
 * order. Frame failures are data (dead letters); only a sink that fails after its retries
 * ends the run, without acknowledging what it could not write.
 */
export function runPipeline(o: PipelineOptions): RunningPipeline {
  if (o.sinks.length === 0) throw new ConfigError('a pipeline needs at least one sink');
  const gate = new InFlightGate(o.maxInFlight);
  const done = new Promise<void>((resolve, reject) => {
    let frames = fromGated(o.source.frames(), gate);
    for (const stage of o.stages) frames = frames.pipe(stage);
    frames
      .pipe(
        batchBySizeAndTime<FrameRecord>(o.sinkBatch),
        concatMap(async (batch) => {
          const t0 = performance.now();
          await Promise.all(o.sinks.map((s) => retry(() => s.write(batch, o.context), o.sinkRetry)));
          const dt = performance.now() - t0;
          for (const r of batch) {
            r.timings.sink = dt / batch.length;
            await o.source.ack(r);
            gate.release();
            o.onDone?.(r);
          }
        }),
      )
      .subscribe({ error: reject, complete: resolve });
  });
  const finished = done.finally(async () => {
    await Promise.allSettled(o.sinks.map((s) => s.close()));
    await o.source.close();
  });
  return {
    done: finished,
    gate,
    stop: () => {
      o.source.stop();
    },
  };
}
