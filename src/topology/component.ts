import type { OutputTransaction } from '../kafka/exactly-once-delivery.js';
import type { PipelineMetrics } from '../telemetry/pipeline-metrics.js';
import type { Sink } from '../sinks/sink.js';
import type { FrameSource } from '../sources/source.js';
import type { SinkKind, SinkSpec, SourceKind, SourceSpec, Topology } from './topology.js';

/** What a component may use besides its own options when the topology is started. */
export interface BuildContext {
  readonly topology: Topology;
  readonly log: (line: string) => void;
  readonly metrics: PipelineMetrics;
  /** delivery: exactly-once: the transaction the Kafka sinks write into (the Kafka source's). */
  readonly transaction?: OutputTransaction;
}

/** Makes a path of a topology absolute, relative to the topology file's folder. */
export type PathResolver = (path: string) => string;

/**
 * A source kind: its options are the branch of schemas/topology.schema.json's `source.oneOf`
 * with this `kind` (validated, defaults filled in, typed from the schema), and `create` makes it.
 */
export interface SourceComponent<K extends SourceKind> {
  readonly kind: K;
  /** The options' relative paths made absolute (the topology file's folder is the base). */
  resolvePaths?(options: Extract<SourceSpec, { kind: K }>, abs: PathResolver): void;
  /** True when the source drops stale frames itself in live mode; others get the generic wrapper. */
  readonly handlesLiveMode?: boolean;
  create(options: Extract<SourceSpec, { kind: K }>, context: BuildContext): FrameSource | Promise<FrameSource>;
}

/** A sink kind: options from `sinks[].oneOf` with this `kind`. */
export interface SinkComponent<K extends SinkKind> {
  readonly kind: K;
  resolvePaths?(options: Extract<SinkSpec, { kind: K }>, abs: PathResolver): void;
  /** `frames`: how many frames the source will give, when it knows (progress lines). */
  create(options: Extract<SinkSpec, { kind: K }>, context: BuildContext & { readonly frames?: number }): Sink | Promise<Sink>;
}
