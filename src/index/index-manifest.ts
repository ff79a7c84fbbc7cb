import { ConfigError } from '../errors.js';

/**
 * What an index holds, stored in its table's schema metadata when the table is created (so it
 * is written once, atomically with the table, and read by every process that opens it). One
 * index holds the embeddings of one model version and one embedder: vectors of two bundles (or
 * of the head and the crop baseline) live in different spaces, and a search across them would
 * rank nonsense.
 */
export interface IndexManifest {
  readonly format: 1;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly embedder: 'object-guided' | 'crop';
  /** How the labels were turned into text when these objects were scored; text queries use it too. */
  readonly labelTemplate: string;
  readonly dim: number;
  /** Query-time defaults of the ANN index (see the index sink's `ann` options). */
  readonly nprobes: number;
  readonly refineFactor: number;
}

/** What a writer or a searcher needs the index to hold. */
export type IndexIdentity = Pick<IndexManifest, 'modelName' | 'modelVersion' | 'embedder'>;

const PREFIX = 'ogclip.';

export const modelOf = (m: Pick<IndexManifest, 'modelName' | 'modelVersion'>) => `${m.modelName}@${m.modelVersion}`;

export function manifestMetadata(m: IndexManifest): Map<string, string> {
  return new Map(Object.entries(m).map(([k, v]) => [PREFIX + k, String(v)]));
}

/** The manifest of a table's schema metadata; a table without one is not an ogclip index. */
export function manifestOf(metadata: Map<string, string>, where: string): IndexManifest {
  const get = (k: string) => metadata.get(PREFIX + k);
  const format = get('format');
  if (format === undefined) {
    throw new ConfigError(
      `${where}: not an ogclip object index (its table has no ${PREFIX}format metadata): give the path an index sink wrote`,
    );
  }
  if (format !== '1') throw new ConfigError(`${where}: index format ${format}, this ogclip reads format 1: rebuild the index`);
  const embedder = get('embedder');
  const num = (k: string) => Number(get(k));
  const m: IndexManifest = {
    format: 1,
    modelName: get('modelName') ?? '',
    modelVersion: get('modelVersion') ?? '',
    embedder: embedder === 'crop' ? 'crop' : 'object-guided',
    labelTemplate: get('labelTemplate') ?? '{}',
    dim: num('dim'),
    nprobes: num('nprobes'),
    refineFactor: num('refineFactor'),
  };
  if (
    !m.modelName ||
    !m.modelVersion ||
    (embedder !== 'crop' && embedder !== 'object-guided') ||
    ![m.dim, m.nprobes, m.refineFactor].every(Number.isInteger)
  ) {
    throw new ConfigError(
      `${where}: the index manifest is damaged (${[...metadata].map(([k, v]) => `${k}=${v}`).join(', ')}): rebuild the index`,
    );
  }
  return m;
}

/**
 * Refuses an index that holds another model version or embedder than `want` (the bundle a
 * topology writes with, or the one a search embeds its query with), naming both and the way out.
 */
export function checkIdentity(index: IndexManifest, want: IndexIdentity, where: string, what = 'this bundle'): void {
  const have = modelOf(index);
  const wanted = modelOf(want);
  if (have !== wanted) {
    throw new ConfigError(
      `${where} holds objects embedded by ${have}, but ${what} is ${wanted}: one index holds one model version. ` +
        `Give ${wanted} an index of its own (another path or table), or use ${have} with this index; to replace it, delete the index and backfill again`,
    );
  }
  if (index.embedder !== want.embedder) {
    throw new ConfigError(
      `${where} holds "${index.embedder}" embeddings of ${have}, but ${what} uses the "${want.embedder}" embedder: their vectors live in different spaces. ` +
        `Use embedder "${index.embedder}", or give "${want.embedder}" an index of its own`,
    );
  }
}
