import { context, metrics, propagation, trace, type Meter, type Tracer } from '@opentelemetry/api';
import type { DropReason } from '../operators/latest-frame-buffer.js';
import type { FrameRecord, StageName } from '../record.js';

/** Instrument names, as constants so dashboards and tests agree. */
export const METRICS = {
  frames: 'ogclip.frames', // counter {outcome: ok | failed}
  errors: 'ogclip.frame.errors', // counter {stage, code}
  dropped: 'ogclip.frames.dropped', // counter {reason: superseded | stale}
  objects: 'ogclip.objects', // counter
  detections: 'ogclip.detections', // counter
  stageLatency: 'ogclip.stage.duration', // histogram ms {stage}
  frameLatency: 'ogclip.frame.duration', // histogram ms, source read -> all sinks written
  inFlight: 'ogclip.frames.in_flight', // gauge
  lag: 'ogclip.consumer.lag', // gauge {partition}
  workerRestarts: 'ogclip.inference.worker_restarts', // gauge: inference workers replaced since start
  runtimeUp: 'ogclip.inference.up', // gauge: 1 running, 0 restarting or failed
} as const;

/**
 * Per-stage counters and latency histograms, drops, in-flight frames and consumer lag, plus one
 * span per frame whose parent is the frame's W3C traceparent. Uses the global OpenTelemetry API:
 * without an SDK started (see startTelemetry) every call is a no-op.
 */
export class PipelineMetrics {
  readonly #meter: Meter;
  readonly #tracer: Tracer;
  readonly #frames;
  readonly #errors;
  readonly #dropped;
  readonly #objects;
  readonly #detections;
  readonly #stage;
  readonly #frame;

  constructor(meter: Meter = metrics.getMeter('ogclip'), tracer: Tracer = trace.getTracer('ogclip')) {
    this.#meter = meter;
    this.#tracer = tracer;
    this.#frames = meter.createCounter(METRICS.frames, { description: 'frames written to every sink' });
    this.#errors = meter.createCounter(METRICS.errors, { description: 'frames that failed, by stage and reason' });
    this.#dropped = meter.createCounter(METRICS.dropped, { description: 'live-mode frames dropped (still committed)' });
    this.#objects = meter.createCounter(METRICS.objects, { description: 'objects found' });
    this.#detections = meter.createCounter(METRICS.detections, { description: 'detections published' });
    this.#stage = meter.createHistogram(METRICS.stageLatency, {
      unit: 'ms',
      description: 'time a frame spent in a stage (its share of the batch)',
    });
    this.#frame = meter.createHistogram(METRICS.frameLatency, { unit: 'ms', description: 'source read to all sinks written' });
  }

  /** Gauges read on each scrape. */
  observe(
    inFlight: () => number,
    lag: () => Record<string, number> = () => ({}),
    runtime?: { readonly restarts: number; readonly status: string },
  ): void {
    if (runtime) {
      this.#meter.createObservableGauge(METRICS.workerRestarts).addCallback((r) => r.observe(runtime.restarts));
      this.#meter.createObservableGauge(METRICS.runtimeUp).addCallback((r) => r.observe(runtime.status === 'running' ? 1 : 0));
    }
    this.#meter.createObservableGauge(METRICS.inFlight).addCallback((r) => r.observe(inFlight()));
    this.#meter.createObservableGauge(METRICS.lag).addCallback((r) => {
      for (const [partition, value] of Object.entries(lag())) r.observe(value, { partition });
    });
  }

  dropped(reason: DropReason): void {
    this.#dropped.add(1, { reason });
  }

  frameDone(r: FrameRecord): void {
    const total = performance.now() - r.receivedAt;
    this.#frames.add(1, { outcome: r.error ? 'failed' : 'ok' });
    if (r.error) this.#errors.add(1, { stage: r.error.stage, code: r.error.code });
    this.#objects.add(r.objects?.length ?? 0);
    this.#detections.add(r.detections?.length ?? 0);
    for (const [stage, ms] of Object.entries(r.timings) as [StageName, number][]) this.#stage.record(ms, { stage });
    this.#frame.record(total);
    const parent = r.traceparent ? propagation.extract(context.active(), { traceparent: r.traceparent }) : context.active();
    const span = this.#tracer.startSpan(
      'ogclip.frame',
      {
        startTime: Date.now() - total,
        attributes: {
          'ogclip.stream_id': r.streamId,
          'ogclip.frame_id': r.frameId,
          'ogclip.objects': r.objects?.length ?? 0,
          ...Object.fromEntries(Object.entries(r.timings).map(([k, v]) => [`ogclip.stage.${k}.ms`, v])),
          ...(r.error ? { 'ogclip.error.stage': r.error.stage, 'ogclip.error.code': r.error.code } : {}),
        },
      },
      parent,
    );
    span.end();
  }
}
