import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
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
  eventLoopDelay: 'ogclip.event_loop.delay', // gauge ms {quantile: 0.5 | 0.99 | 1}, since the previous collection
} as const;

/** Sampling interval of the event-loop monitor: a delay shorter than this is not seen. */
const eventLoopResolutionMs = 10;
let eventLoop: IntervalHistogram | undefined;
const eventLoopMeters = new WeakSet<Meter>();

/**
 * How late the main thread's event loop ran (perf_hooks' monitorEventLoopDelay): the 0.5 and
 * 0.99 quantiles and the maximum (quantile 1) since the previous collection (each scrape starts
 * a new window, so a spike shows once, at the next scrape), in ms beyond the sampling interval.
 * Everything on the main thread (Kafka clients, sharp callbacks, mask post-processing, the
 * Prometheus exporter itself) waits that long. One monitor per process, one gauge per meter:
 * the loop is the process's, not a topology's. The monitor's timer does not keep the process up.
 */
function observeEventLoop(meter: Meter): void {
  if (eventLoopMeters.has(meter)) return;
  eventLoopMeters.add(meter);
  if (!eventLoop) {
    eventLoop = monitorEventLoopDelay({ resolution: eventLoopResolutionMs });
    eventLoop.enable();
  }
  const loop = eventLoop;
  const ms = (ns: number) => Math.max(0, ns / 1e6 - eventLoopResolutionMs);
  meter
    .createObservableGauge(METRICS.eventLoopDelay, { unit: 'ms', description: 'event loop delay since the previous collection' })
    .addCallback((r) => {
      if (loop.count === 0) return; // no sample yet in this window (a scrape right after the previous one)
      r.observe(ms(loop.percentile(50)), { quantile: '0.5' });
      r.observe(ms(loop.percentile(99)), { quantile: '0.99' });
      r.observe(ms(loop.max), { quantile: '1' });
      loop.reset();
    });
}

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
    observeEventLoop(this.#meter);
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
