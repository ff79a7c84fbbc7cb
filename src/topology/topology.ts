/** A topology after validation against schemas/topology.schema.json (defaults filled in). */
export type SourceSpec =
  | { kind: 'dataset'; path: string; fps: number; limit: number; loops: number; streamId: string }
  | { kind: 'directory'; path: string; watch: boolean; recursive: boolean; streamId: string }
  | {
      kind: 'kafka';
      brokers: string[];
      topic: string;
      groupId: string;
      clientId: string;
      fromBeginning: boolean;
      maxBytesPerPartition: number;
      sessionTimeoutMs: number;
      shutdownDeadlineMs: number;
      referenceRoots: string[];
      allowHttpReferences: boolean;
    };

export type SinkSpec =
  | { kind: 'jsonl'; content: 'objects' | 'detections' | 'dead-letters'; path: string }
  | { kind: 'annotated-png'; dir: string; limit: number }
  | { kind: 'summary'; path: string }
  | { kind: 'console'; everyMs: number }
  | { kind: 'kafka'; brokers: string[]; content: 'objects' | 'detections' | 'dead-letters'; topic: string; clientId: string };

export interface Topology {
  name: string;
  description?: string;
  bundle: string;
  mode: 'lossless' | 'live';
  live: { stalenessMs: number };
  maxInFlight: number;
  source: SourceSpec;
  decode: { maxPixels: number; maxBytes: number; formats: ('jpeg' | 'png' | 'webp')[]; concurrency: number };
  sam2: {
    mode: 'automatic' | 'prompted';
    pointsPerSide: number;
    pointsPerBatch: number;
    predIouThresh: number;
    stabilityScoreThresh: number;
    stabilityScoreOffset: number;
    boxNmsThresh: number;
    objectScoreThresh: number;
    maxObjects: number;
  };
  embedder: 'object-guided' | 'crop';
  labels: { list?: string[]; template: string; controlTopic?: string };
  similarity: { score: 'softmax' | 'cosine'; threshold: number; topK: number; maskNmsThresh: number };
  batching: { maxSize: number; maxWaitMs: number };
  runtime: {
    executionProviders: ('cpu' | 'cuda')[];
    cudaDeviceId: number;
    intraOpNumThreads: number;
    interOpNumThreads: number;
    graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  };
  sinks: SinkSpec[];
  telemetry: { prometheusPort?: number; healthPort?: number };
}
