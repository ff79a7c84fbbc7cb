import { isAbsolute } from 'node:path';
import { ConfigError } from '../errors.js';
import { readBundle } from '../models/bundle.js';
import type { FrameRecord } from '../record.js';
import type { Sink, SinkContext } from '../sinks/sink.js';
import type { SinkComponent } from '../topology/component.js';
import type { SinkSpec } from '../topology/topology.js';
import { modelOf, type IndexIdentity } from './index-manifest.js';
import { indexBatch } from './index-row.js';
import { IndexWriter } from './index-writer.js';
import { describe } from './object-index.js';

export type IndexSinkOptions = Extract<SinkSpec, { kind: 'index' }>;

/** A URI with a scheme (s3://, gs://, az://, file://, memory://) is the store's; anything else is a local folder. */
export const isUri = (path: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(path);

/**
 * The object search index as a sink: every embedded object of every healthy frame becomes one
 * row (see indexBatch), all the frames of one `write` in one merge-insert that also removes rows
 * a replay no longer finds. Frames without objects leave no row; failed frames are the
 * dead-letter sink's and leave the index as it was. `write` resolves once LanceDB has
 * committed the new table version, so the source acknowledges only indexed frames.
 */
export async function indexSink(
  o: IndexSinkOptions,
  identity: IndexIdentity,
  labelTemplate: string,
  log?: (line: string) => void,
): Promise<Sink> {
  const location = { uri: o.path, table: o.table, storageOptions: o.storageOptions, cacheMb: o.cacheMb };
  const writer = await IndexWriter.open({
    location,
    identity,
    labelTemplate,
    ann: o.ann,
    optimizeEveryRows: o.optimizeEveryRows,
    ...(log ? { log } : {}),
  });
  return {
    name: `index:${o.path}`,
    async write(records: readonly FrameRecord[], ctx: SinkContext) {
      // The models the pipeline runs must be those the sink was opened for (a caller's own model set could differ).
      const running = `${ctx.modelName}@${ctx.modelVersion}`;
      if (running !== modelOf(identity)) {
        throw new ConfigError(
          `${describe(location)} was opened for ${modelOf(identity)}, but the pipeline runs ${running}: open the sink for the bundle the pipeline runs`,
        );
      }
      await writer.write(indexBatch(records, ctx));
    },
    close: () => writer.close(),
  };
}

/** `kind: index` in a topology's sinks: the identity is the topology's bundle and embedder. */
export const indexSinkComponent: SinkComponent<'index'> = {
  kind: 'index',
  resolvePaths: (o, abs) => {
    if (!isUri(o.path) && !isAbsolute(o.path)) o.path = abs(o.path);
  },
  create: async (o, { topology, log }) => {
    const m = (await readBundle(topology.bundle)).manifest;
    const identity: IndexIdentity = { modelName: m.name, modelVersion: m.version, embedder: topology.embedder };
    if (!m.name || !m.version)
      throw new ConfigError(`${topology.bundle}: the bundle has no name@version (${modelOf(identity)}) to key an index by`);
    return indexSink(o, identity, topology.labels.template, log);
  },
};
