import { indexSinkComponent } from '../index/index-sink.js';
import { kafkaSinkComponent } from '../kafka/kafka-sink.js';
import { kafkaSourceComponent } from '../kafka/kafka-source.js';
import { annotatedPngSinkComponent } from '../sinks/annotated-png-sink.js';
import { consoleSinkComponent } from '../sinks/console-progress-sink.js';
import { jsonlSinkComponent } from '../sinks/jsonl-sink.js';
import { summarySinkComponent } from '../sinks/summary-sink.js';
import { datasetSourceComponent } from '../sources/dataset-replay-source.js';
import { directorySourceComponent } from '../sources/directory-source.js';
import { videoSourceComponent } from '../sources/video-source.js';
import type { SinkComponent, SourceComponent } from './component.js';
import { cropEmbedder, objectGuidedEmbedder, type EmbedderComponent, type EmbedderKind } from './embedders.js';
import type { SinkKind, SourceKind } from './topology.js';

// One line per component. The key set is exactly the `kind`s of schemas/topology.schema.json
// (the mapped types do not compile when a kind has no component, or a component no kind), so a
// new source or sink is: its options in the schema, `npm run schemas:types`, its file, a line here.

export const SOURCES: { readonly [K in SourceKind]: SourceComponent<K> } = {
  dataset: datasetSourceComponent,
  directory: directorySourceComponent,
  kafka: kafkaSourceComponent,
  video: videoSourceComponent,
};

export const SINKS: { readonly [K in SinkKind]: SinkComponent<K> } = {
  jsonl: jsonlSinkComponent,
  'annotated-png': annotatedPngSinkComponent,
  summary: summarySinkComponent,
  console: consoleSinkComponent,
  kafka: kafkaSinkComponent,
  index: indexSinkComponent,
};

export const EMBEDDERS: { readonly [K in EmbedderKind]: EmbedderComponent<K> } = {
  'object-guided': objectGuidedEmbedder,
  crop: cropEmbedder,
};
