import { Session, connect, type Connection, type Table } from '@lancedb/lancedb';
import { ConfigError } from '../errors.js';
import type { Rle } from '../masks/rle.js';
import type { FrameOrigin, ObjectLabel } from '../record.js';
import { sqlString, wherePredicate, type SearchFilters } from './index-filters.js';
import { manifestOf, type IndexManifest } from './index-manifest.js';
import { EMBEDDING_COLUMN } from './index-row.js';

/** Where an index lives: a local folder or an object-store URI, the table in it, and the store's options. */
export interface IndexLocation {
  readonly uri: string;
  readonly table?: string; // default "objects"
  readonly storageOptions?: Readonly<Record<string, string>>;
  /**
   * Reads check for other processes' commits when this many seconds have passed since the last
   * check (0: every read). Searches default to 1, so a long-lived searcher sees a running
   * backfill's rows; writes are always consistent.
   */
  readonly readConsistencySeconds?: number;
  /** LanceDB's in-memory caches, MB (default DEFAULT_CACHE_MB). */
  readonly cacheMb?: { readonly index: number; readonly metadata: number };
}

/**
 * Bounds for LanceDB's caches. Its own defaults (6 GB of index data, 1 GB of metadata) are sized
 * for a query server on its own machine; in a pipeline process they let memory grow with every
 * committed version (measured: about 0.4 MB per write) until they fill.
 */
export const DEFAULT_CACHE_MB = { index: 256, metadata: 64 } as const;

/** The cache session of a location's connection: its sizeBytes() is what the caches hold. */
export function indexSession(location: IndexLocation): Session {
  const { index, metadata } = location.cacheMb ?? DEFAULT_CACHE_MB;
  return new Session(BigInt(index) << 20n, BigInt(metadata) << 20n);
}

export const DEFAULT_TABLE = 'objects';

/** One object as the index holds it. */
export interface IndexedObject {
  readonly key: string;
  readonly streamId: string;
  readonly frameId: string;
  readonly timestamp: number; // ms since epoch
  readonly objectId: number;
  readonly width: number;
  readonly height: number;
  readonly box: readonly [number, number, number, number];
  readonly mask: Rle;
  readonly maskScore: number; // predicted IoU of the mask
  readonly labels: readonly ObjectLabel[];
  readonly model: string;
  readonly origin: FrameOrigin;
}

/** A search result: the object and its cosine similarity to the query. */
export interface ObjectHit extends IndexedObject {
  readonly score: number;
}

export interface SearchOptions {
  /** IVF partitions searched (an ANN index only); default: the index's. */
  readonly nprobes?: number;
  /** k x refineFactor ANN candidates re-ranked by exact distance; default: the index's. */
  readonly refineFactor?: number;
}

/** The store a location names; errors name the location. */
export async function connectIndex(location: IndexLocation, session = indexSession(location)): Promise<Connection> {
  try {
    return await connect(location.uri, {
      session,
      storageOptions: { ...location.storageOptions },
      ...(location.readConsistencySeconds === undefined ? {} : { readConsistencyInterval: location.readConsistencySeconds }),
    });
  } catch (err) {
    throw new ConfigError(`index ${location.uri}: cannot open (${(err as Error).message})`, { cause: err });
  }
}

export const describe = (location: IndexLocation) => `index ${location.uri} (table "${location.table ?? DEFAULT_TABLE}")`;

/** The table of a location, or undefined when there is none yet; a table that exists but cannot be opened is a ConfigError. */
export async function openTableIfAny(db: Connection, location: IndexLocation): Promise<Table | undefined> {
  const name = location.table ?? DEFAULT_TABLE;
  let names: string[];
  try {
    names = await db.tableNames();
  } catch (err) {
    throw new ConfigError(`${describe(location)}: cannot list its tables (${(err as Error).message})`, { cause: err });
  }
  if (!names.includes(name)) return undefined;
  try {
    return await db.openTable(name, undefined, location.storageOptions ? { storageOptions: { ...location.storageOptions } } : {});
  } catch (err) {
    throw new ConfigError(
      `${describe(location)}: the table cannot be opened, it is damaged or not a LanceDB table (${(err as Error).message})`,
      {
        cause: err,
      },
    );
  }
}

export async function readManifest(table: Table, location: IndexLocation): Promise<IndexManifest> {
  let schema;
  try {
    schema = await table.schema();
  } catch (err) {
    throw new ConfigError(`${describe(location)}: cannot read its schema, the table is damaged (${(err as Error).message})`, {
      cause: err,
    });
  }
  return manifestOf(schema.metadata, describe(location));
}

/**
 * An object index opened for searching (`openObjectIndex`). Searches are exact cosine scans until
 * the writer builds the IVF-PQ index; after that LanceDB searches the indexed rows approximately
 * (nprobes, refineFactor) and the rows written since exactly.
 */
export class ObjectIndex {
  private constructor(
    private readonly db: Connection,
    private readonly table: Table,
    readonly manifest: IndexManifest,
    readonly location: IndexLocation,
  ) {}

  /** Opens an existing index; a missing, damaged or foreign table is a ConfigError saying so. */
  static async open(location: IndexLocation | string): Promise<ObjectIndex> {
    const loc = { readConsistencySeconds: 1, ...(typeof location === 'string' ? { uri: location } : location) };
    const db = await connectIndex(loc);
    try {
      const table = await openTableIfAny(db, loc);
      if (!table) {
        throw new ConfigError(
          `${describe(loc)}: no such index. Build one by running a topology with an index sink ({ kind: index, path: ${loc.uri} }), ` +
            'e.g. ogclip run topologies/index-archive.yaml',
        );
      }
      return new ObjectIndex(db, table, await readManifest(table, loc), loc);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** name@version of the bundle whose embeddings the index holds. */
  get modelVersion(): string {
    return `${this.manifest.modelName}@${this.manifest.modelVersion}`;
  }

  /** The k objects nearest to `vector` (cosine), best first, among those the filters let through. */
  async search(vector: ArrayLike<number>, filters: SearchFilters = {}, k = 10, options: SearchOptions = {}): Promise<ObjectHit[]> {
    if (vector.length !== this.manifest.dim) {
      throw new ConfigError(
        `${describe(this.location)}: the query vector has ${vector.length} values, the index holds ${this.manifest.dim}`,
      );
    }
    if (!Number.isInteger(k) || k < 1) throw new ConfigError(`k: ${k} is not a positive whole number`);
    let q = this.table
      .vectorSearch(Array.from(vector))
      .column(EMBEDDING_COLUMN)
      .distanceType('cosine')
      .nprobes(options.nprobes ?? this.manifest.nprobes)
      .refineFactor(options.refineFactor ?? this.manifest.refineFactor)
      // Not the embeddings: a hit does not carry one, and converting k vectors of 512 floats from
      // Arrow rows cost more than the search itself.
      .select([...HIT_COLUMNS, '_distance'])
      .limit(k);
    const where = wherePredicate(filters);
    if (where) q = q.where(where);
    const rows = (await q.toArray()) as Row[];
    // LanceDB's cosine distance is 1 - cosine similarity.
    return rows.map((r) => ({ ...objectOf(r), score: 1 - r._distance! }));
  }

  /** How many objects the index holds (among those the filters let through). */
  count(filters: SearchFilters = {}): Promise<number> {
    return this.table.countRows(wherePredicate(filters));
  }

  /** One object by its key, with its stored embedding; undefined when the index has none. */
  async get(key: string): Promise<(IndexedObject & { readonly embedding: Float32Array }) | undefined> {
    const rows = (await this.table
      .query()
      .where(`key = ${sqlString(key)}`)
      .limit(1)
      .toArray()) as Row[];
    const r = rows[0];
    return r && { ...objectOf(r), embedding: Float32Array.from(r.embedding) };
  }

  /** One object by its key, without its embedding (what a hit holds); undefined when the index has none. */
  async object(key: string): Promise<IndexedObject | undefined> {
    const rows = (await this.table
      .query()
      .where(`key = ${sqlString(key)}`)
      .select([...HIT_COLUMNS])
      .limit(1)
      .toArray()) as Row[];
    return rows[0] && objectOf(rows[0]);
  }

  /** The `limit` most recently captured objects the filters let through, newest first. */
  async newest(filters: SearchFilters, limit: number): Promise<IndexedObject[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new ConfigError(`limit: ${limit} is not a positive whole number`);
    // LanceDB's plain queries have no ORDER BY: the newest are found from the timestamps alone,
    // then only their rows are read.
    let times = this.table.query().select(['key', 'timestamp']);
    const where = wherePredicate(filters);
    if (where) times = times.where(where);
    const all = (await times.toArray()) as { key: string; timestamp: bigint }[];
    const keys = all
      .sort((a, b) => (a.timestamp === b.timestamp ? (a.key < b.key ? -1 : 1) : a.timestamp > b.timestamp ? -1 : 1))
      .slice(0, limit)
      .map((r) => r.key);
    if (keys.length === 0) return [];
    const rows = (await this.table
      .query()
      .where(`key IN (${keys.map(sqlString).join(', ')})`)
      .toArray()) as Row[];
    const byKey = new Map(rows.map((r) => [r.key, objectOf(r)]));
    return keys.flatMap((k) => byKey.get(k) ?? []);
  }

  /** Every object (the filters applied) with its stored embedding, in no particular order. */
  async objects(filters: SearchFilters = {}): Promise<(IndexedObject & { readonly embedding: Float32Array })[]> {
    let q = this.table.query();
    const where = wherePredicate(filters);
    if (where) q = q.where(where);
    const rows = (await q.toArray()) as Row[];
    return rows.map((r) => ({ ...objectOf(r), embedding: Float32Array.from(r.embedding) }));
  }

  close(): void {
    this.table.close();
    this.db.close();
  }
}

/** Opens an existing object index for searching (see ObjectIndex). */
export function openObjectIndex(location: IndexLocation | string): Promise<ObjectIndex> {
  return ObjectIndex.open(location);
}

/** The columns a hit is made of (objectOf): every column but the embedding and the frame key. */
const HIT_COLUMNS = [
  'key',
  'stream_id',
  'frame_id',
  'timestamp',
  'object_id',
  'width',
  'height',
  'box',
  'mask',
  'score',
  'labels',
  'model',
  'origin_kind',
  'origin_path',
  'origin_index',
  'origin_topic',
  'origin_partition',
  'origin_offset',
] as const;

/** A row as LanceDB's query results give it (Arrow struct rows: lists are Arrow vectors). */
interface Row {
  key: string;
  stream_id: string;
  frame_id: string;
  timestamp: bigint;
  object_id: number;
  width: number;
  height: number;
  box: Iterable<number>;
  mask: { size: Iterable<number>; counts: Iterable<number> };
  score: number;
  embedding: Iterable<number>;
  labels: Iterable<{ label: string; score: number }>;
  model: string;
  origin_kind: string;
  origin_path: string | null;
  origin_index: number | null;
  origin_topic: string | null;
  origin_partition: number | null;
  origin_offset: string | null;
  _distance?: number;
}

function originOf(r: Row): FrameOrigin {
  switch (r.origin_kind) {
    case 'file':
      return { kind: 'file', path: r.origin_path ?? '' };
    case 'dataset':
      return { kind: 'dataset', path: r.origin_path ?? '', index: r.origin_index ?? 0 };
    case 'kafka':
      return { kind: 'kafka', topic: r.origin_topic ?? '', partition: r.origin_partition ?? 0, offset: r.origin_offset ?? '' };
    default:
      return { kind: 'memory' };
  }
}

function objectOf(r: Row): IndexedObject {
  const [x0, y0, x1, y1] = [...r.box];
  const [h, w] = [...r.mask.size];
  return {
    key: r.key,
    streamId: r.stream_id,
    frameId: r.frame_id,
    timestamp: Number(r.timestamp),
    objectId: r.object_id,
    width: r.width,
    height: r.height,
    box: [x0!, y0!, x1!, y1!],
    mask: { size: [h!, w!], counts: [...r.mask.counts] },
    maskScore: r.score,
    labels: [...r.labels].map((l) => ({ label: l.label, score: l.score })),
    model: r.model,
    origin: originOf(r),
  };
}
