// The public API of the `ogclip` package: what a program that builds its own pipeline imports.
// Everything else under src/ is internal and may change without notice.

// Running a pipeline: from a topology (YAML or in code), or from stages you assemble yourself.
export { runPipeline, type PipelineOptions, type RunningPipeline } from './pipeline.js';
export { loadTopology } from './topology/load-topology.js';
export { defaultTopology } from './topology/default-topology.js';
export { startTopology, buildStages, type StartOptions, type StartedTopology } from './topology/start-topology.js';
export type { Topology, SourceSpec, SinkSpec, SourceKind, SinkKind } from './topology/topology.js';
// The components a topology names, by kind, and what a new one implements.
export { SOURCES, SINKS, EMBEDDERS } from './topology/registry.js';
export type { SourceComponent, SinkComponent, BuildContext, PathResolver } from './topology/component.js';
export type { EmbedderComponent, EmbedderKind } from './topology/embedders.js';

// Records and errors.
export type {
  FrameRecord,
  FrameOrigin,
  FrameImage,
  ObjectState,
  ObjectStateName,
  ObjectAt,
  ObjectBase,
  ObjectLabel,
  SegmentedObject,
  BranchedObject,
  FusedObject,
  EmbeddedObject,
  LabelledObject,
  Detection,
  GroundTruthObject,
  StageName,
} from './record.js';
export { objectsAt, imageOf, isAt, embeddingOf, labelsOf, fail } from './record.js';
export { OgclipError, ConfigError, ModelFormatError, RunFailedError, type FrameErrorCode } from './errors.js';

// Models.
export { readBundle, type Bundle, type BundleManifest, type ModelDtype } from './models/bundle.js';
export { openModelSet, requireHead, warmUp, type ModelSet, type ObjectGuidedHead } from './models/model-set.js';
export type { Sam2Prompt } from './models/sam2.js';
export {
  InferenceClient,
  InferenceRuntimeError,
  defaultSupervision,
  type RuntimeStatus,
  type SupervisionOptions,
} from './models/inference-client.js';
export type { TensorHandle } from './models/inference-client.js';
export { InferencePool, poolSize } from './models/inference-pool.js';
export type { InferenceRuntime } from './models/inference-runtime.js';

// Stages: each a factory that checks its options and returns an RxJS operator on FrameRecord.
export { decodeStage, defaultDecodeLimits, type DecodeOptions } from './stages/decode.js';
export { sam2Stage, samAutomaticDefaults, type AutomaticOptions, type Sam2StageOptions } from './stages/sam2.js';
export { branchesStage, type BranchesOptions } from './stages/branches.js';
export { fusionStage, type FusionOptions } from './stages/fusion.js';
export { projectionStage, type ProjectionOptions } from './stages/projection.js';
export { cropEmbedStage, type CropEmbedOptions } from './stages/crop-embed.js';
export { similarityStage, type SimilarityOptions } from './stages/similarity.js';

// Operators the stages are made of.
export { batchBySizeAndTime, type BatchOptions } from './operators/batch-by-size-and-time.js';
export { mapConcurrentOrdered } from './operators/map-concurrent-ordered.js';
export { inferInBatches, type InferOptions } from './operators/infer-in-batches.js';
export { InFlightGate } from './operators/in-flight-gate.js';
export { LatestFrameBuffer, type LatestFrameOptions } from './operators/latest-frame-buffer.js';
export { retry, type RetryOptions } from './operators/retry.js';

// Sources.
export type { FrameSource } from './sources/source.js';
export { memorySource } from './sources/memory-source.js';
export { directorySource, type DirectoryOptions } from './sources/directory-source.js';
export { datasetReplaySource, type DatasetReplayOptions } from './sources/dataset-replay-source.js';
export { kafkaSource, type KafkaSourceOptions } from './kafka/kafka-source.js';

// Sinks and the messages they write (schemas/*.json).
export type { Sink, SinkContext } from './sinks/sink.js';
export { collectSink } from './sinks/collect-sink.js';
export { jsonlSink, type JsonlContent } from './sinks/jsonl-sink.js';
export { kafkaSink, type KafkaSinkOptions } from './kafka/kafka-sink.js';
export { summarySink, type RunSummary } from './sinks/summary-sink.js';
export { annotatedPngSink, type AnnotatedPngOptions } from './sinks/annotated-png-sink.js';
export {
  objectsMessage,
  detectionsMessage,
  deadLetterMessage,
  float32Base64,
  base64Float32,
  type ObjectsMessage,
  type DetectionsMessage,
  type DeadLetterMessage,
} from './sinks/messages.js';

// Object search: the index a `kind: index` sink writes, searched by a vector, a text or an example object.
export {
  openObjectIndex,
  ObjectIndex,
  type IndexLocation,
  type IndexedObject,
  type ObjectHit,
  type SearchOptions,
} from './index/object-index.js';
export { IndexWriter, type IndexWriterOptions, type AnnOptions } from './index/index-writer.js';
export { indexSink, type IndexSinkOptions } from './index/index-sink.js';
export { indexBatch, objectKey, type IndexBatch, type IndexRow } from './index/index-row.js';
export { wherePredicate, parseTime, type SearchFilters } from './index/index-filters.js';
export { checkIdentity, type IndexManifest, type IndexIdentity } from './index/index-manifest.js';
export { textQueryVector, exampleQueryVector, type ExampleQuery, type ExampleObject } from './index/query-vectors.js';
export { contactSheet, type ContactSheet, type ContactSheetOptions } from './index/contact-sheet.js';
