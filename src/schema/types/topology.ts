// Generated from schemas/topology.schema.json by scripts/schema-types.mjs (npm run schemas:types); do not edit.
// Properties with a schema default are required here: ajv fills them in when it validates.

/**
 * A pipeline: source -> decode -> sam2 -> (branches -> fusion -> projection | crop embed) -> similarity -> sinks. Relative paths are relative to the topology file.
 */
export interface Topology {
  name: string;
  description?: string;
  /**
   * model bundle folder (with bundle.json)
   */
  bundle: string;
  /**
   * lossless: every frame; live: newest frame per stream, stale frames dropped
   */
  mode: 'lossless' | 'live';
  live: {
    stalenessMs: number;
  };
  /**
   * frames inside the pipeline at once
   */
  maxInFlight: number;
  /**
   * at-least-once: sinks write, then the source commits its offsets (a crash or rebalance can write a frame twice); exactly-once: a kafka source and kafka sinks only (console and summary may stay: they have no downstream readers), every Kafka output of a frame and the input offsets are committed in one Kafka transaction per input partition; read the outputs with isolation read_committed
   */
  delivery: 'at-least-once' | 'exactly-once';
  source:
    | {
        kind: 'dataset';
        path: string;
        fps: number;
        limit: number;
        loops: number;
        streamId: string;
      }
    | {
        kind: 'directory';
        path: string;
        watch: boolean;
        recursive: boolean;
        streamId: string;
      }
    | {
        kind: 'kafka';
        /**
         * @minItems 1
         */
        brokers: string[];
        topic: string;
        groupId: string;
        clientId: string;
        fromBeginning: boolean;
        maxBytesPerPartition: number;
        sessionTimeoutMs: number;
        shutdownDeadlineMs: number;
        /**
         * folders file:// references may point into
         */
        referenceRoots: string[];
        allowHttpReferences: boolean;
      }
    | {
        kind: 'video';
        /**
         * a video file (relative paths are resolved against the topology's folder) or a URL ffmpeg reads (rtsp://, http://, ...)
         */
        url: string;
        /**
         * frames sampled per second of the stream
         */
        fps: number;
        streamId: string;
        /**
         * stop after this many frames; 0: no limit
         */
        limit: number;
      };
  decode: {
    maxPixels: number;
    maxBytes: number;
    /**
     * @minItems 1
     */
    formats: ('jpeg' | 'png' | 'webp')[];
    concurrency: number;
  };
  sam2: {
    /**
     * automatic: frames without prompts get the point grid
     */
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
  /**
   * object-guided: the bundle's trained head; crop: training-free masked crop -> CLIP
   */
  embedder: 'object-guided' | 'crop';
  labels: {
    /**
     * label set; default: the bundle's labels
     */
    list?: string[];
    template: string;
    /**
     * Kafka topic whose newest message replaces the label set while running
     */
    controlTopic?: string;
  };
  similarity: {
    score: 'softmax' | 'cosine';
    threshold: number;
    topK: number;
    maskNmsThresh: number;
  };
  batching: {
    maxSize: number;
    maxWaitMs: number;
  };
  runtime: {
    /**
     * @minItems 1
     */
    executionProviders: ('cpu' | 'cuda')[];
    cudaDeviceId: number;
    intraOpNumThreads: number;
    interOpNumThreads: number;
    graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
    /**
     * inference workers, each with every session of the bundle (memory grows with them); 0: one per intraOpNumThreads cores of the machine (in a container, the node's cores, not the pod's). Frames' model work spreads over them
     */
    workers: number;
    /**
     * let onnxruntime's threads busy-wait after each run; off, because the pipeline's sessions take turns on the same cores and a pool still spinning slows the next session's run
     */
    spinning: boolean;
    /**
     * batch sizes of the model calls: powers-of-two (1, 2, 4, ... rows, padded by at most a quarter or split; each size run once at start, so a new object or prompt count does not pay onnxruntime's set-up mid-stream) or exact (as many rows as the data has); both at most 64 objects a call
     */
    batchShapes: 'powers-of-two' | 'exact';
    /**
     * an inference request unanswered this long means the worker hangs: it is terminated, restarted and its requests sent again
     */
    requestTimeoutMs: number;
    /**
     * inference worker deaths in a row (nothing answered in between) before the run stops with an error; a request that kills the worker twice fails alone, as a dead letter
     */
    maxWorkerRestarts: number;
  };
  /**
   * @minItems 1
   */
  sinks: (
    | {
        kind: 'jsonl';
        content: 'objects' | 'detections' | 'dead-letters';
        path: string;
      }
    | {
        kind: 'annotated-png';
        dir: string;
        limit: number;
      }
    | {
        kind: 'summary';
        path: string;
      }
    | {
        kind: 'index';
        /**
         * index folder (relative to the topology file) or an object-store URI LanceDB supports (s3://, gs://, az://)
         */
        path: string;
        /**
         * table name inside the index
         */
        table: string;
        /**
         * passed to LanceDB as they are: credentials, region, endpoint of an object store
         */
        storageOptions: {
          [k: string]: string;
        };
        /**
         * LanceDB's in-memory caches of this writer, MB; its own defaults (6 GB of index, 1 GB of metadata) let a long run's memory grow by about 0.4 MB per write until they fill
         */
        cacheMb: {
          index: number;
          metadata: number;
        };
        /**
         * after this many rows written by this process: compact the table's small fragments, fold new rows into the ANN index, build it once the table has ann.minRows (0: only when the sink closes)
         */
        optimizeEveryRows: number;
        /**
         * the approximate-nearest-neighbour index (IVF-PQ, cosine distance); below minRows every search is an exact scan
         */
        ann: {
          /**
           * build the IVF-PQ index once the table holds this many rows (PQ training needs at least 256)
           */
          minRows: number;
          /**
           * IVF partitions; 0: LanceDB's default (square root of the row count)
           */
          numPartitions: number;
          /**
           * PQ sub-vectors; must divide the embedding size; 0: LanceDB's default (size / 16, or / 8)
           */
          numSubVectors: number;
          /**
           * bits per PQ code
           */
          numBits: 4 | 8;
          /**
           * query time: IVF partitions searched (recorded in the index when it is created; search --nprobes overrides)
           */
          nprobes: number;
          /**
           * query time: k x refineFactor candidates re-ranked by their exact cosine (recorded in the index when it is created; search --refine-factor overrides). At 1,000,000 objects of 512 values with the default sub-vectors, 10 found 0.82 of the exact top 10 and 30 all of them (bench/README.md)
           */
          refineFactor: number;
        };
      }
    | {
        kind: 'console';
        everyMs: number;
      }
    | {
        kind: 'kafka';
        /**
         * @minItems 1
         */
        brokers: string[];
        content: 'objects' | 'detections' | 'dead-letters';
        topic: string;
        clientId: string;
      }
  )[];
  telemetry: {
    /**
     * serve /metrics here; absent: no endpoint
     */
    prometheusPort?: number;
    /**
     * serve /healthz and /readyz here
     */
    healthPort?: number;
  };
}
