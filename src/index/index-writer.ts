import { Index, makeArrowTable, type Connection, type Session, type Table } from '@lancedb/lancedb';
import type { Schema } from 'apache-arrow';
import { ConfigError, OgclipError } from '../errors.js';
import { sqlString } from './index-filters.js';
import { checkIdentity, manifestMetadata, type IndexIdentity, type IndexManifest } from './index-manifest.js';
import { EMBEDDING_COLUMN, indexSchema, type IndexBatch } from './index-row.js';
import { DEFAULT_TABLE, connectIndex, describe, indexSession, openTableIfAny, readManifest, type IndexLocation } from './object-index.js';

/** The ANN index's settings (the index sink's `ann` options). */
export interface AnnOptions {
  readonly minRows: number;
  readonly numPartitions: number; // 0: LanceDB's default
  readonly numSubVectors: number; // 0: LanceDB's default
  readonly numBits: 4 | 8;
  readonly nprobes: number;
  readonly refineFactor: number;
}

export interface IndexWriterOptions {
  readonly location: IndexLocation;
  readonly identity: IndexIdentity;
  /** The topology's label template, recorded for text queries. */
  readonly labelTemplate: string;
  readonly ann: AnnOptions;
  /** Maintenance (compaction, ANN build or update) after this many rows written here; 0: at close only. */
  readonly optimizeEveryRows: number;
  readonly log?: (line: string) => void;
}

/**
 * The write side of an object index. `write` is one LanceDB merge-insert on `key` (matched rows
 * updated, new rows inserted, the frames' other rows deleted): a replayed frame leaves its objects
 * once. Each merge-insert commits a new table version before it resolves (the data files first,
 * then the manifest that names them), so once `write` resolves the rows survive the process (a
 * machine crash too, as far as the store's writes are durable); several processes may write one
 * index: LanceDB retries a commit that conflicts with another writer's, and what still fails is
 * thrown as retriable for the pipeline's sink retry.
 *
 * The table is created by the first write with objects (the embedding size is known then), its manifest in
 * the schema metadata. A table that holds another model version or embedder is refused at open.
 */
export class IndexWriter {
  #table: Table | undefined;
  #manifest: IndexManifest | undefined;
  #schema: Schema | undefined;
  #sinceMaintenance = 0;
  #hasAnn = false;
  #maintaining: Promise<void> | undefined;
  readonly #writes = new Set<Promise<void>>();
  #closed: Promise<void> | undefined;

  private constructor(
    private readonly db: Connection,
    private readonly o: IndexWriterOptions,
    private readonly session: Session,
  ) {}

  /** Bytes LanceDB's caches hold for this writer (bounded by the location's cacheMb). */
  cacheBytes(): number {
    return Number(this.session.sizeBytes());
  }

  static async open(o: IndexWriterOptions): Promise<IndexWriter> {
    const session = indexSession(o.location);
    const db = await connectIndex(o.location, session);
    const w = new IndexWriter(db, o, session);
    try {
      const table = await openTableIfAny(db, o.location);
      if (table) await w.#adopt(table);
    } catch (err) {
      db.close();
      throw err;
    }
    return w;
  }

  get manifest(): IndexManifest | undefined {
    return this.#manifest;
  }

  async #adopt(table: Table): Promise<void> {
    const manifest = await readManifest(table, this.o.location);
    try {
      checkIdentity(manifest, this.o.identity, describe(this.o.location));
    } catch (err) {
      table.close();
      throw err;
    }
    this.#table = table;
    this.#manifest = manifest;
    this.#schema = await table.schema();
    this.#hasAnn = (await table.listIndices()).some((i) => i.columns.includes(EMBEDDING_COLUMN));
  }

  async #tableFor(dim: number): Promise<Table> {
    if (!this.#table) {
      const { ann, identity, labelTemplate } = this.o;
      const manifest: IndexManifest = { format: 1, ...identity, labelTemplate, dim, nprobes: ann.nprobes, refineFactor: ann.refineFactor };
      // existOk: when another process created the table first, this opens theirs, and #adopt checks it.
      const table = await lance(this.o.location, 'create the table', () =>
        this.db.createEmptyTable(this.o.location.table ?? DEFAULT_TABLE, indexSchema(dim, manifestMetadata(manifest)), {
          mode: 'create',
          existOk: true,
        }),
      );
      await this.#adopt(table);
    }
    if (this.#manifest!.dim !== dim) {
      throw new ConfigError(`${describe(this.o.location)} holds ${this.#manifest!.dim}-value embeddings, these objects have ${dim}`);
    }
    return this.#table!;
  }

  /**
   * Replaces the rows of the batch's frames by its rows, in one merge-insert (one commit): rows
   * whose key exists are updated, new keys inserted, and rows of these frames that the batch no
   * longer has (a replay that found fewer objects) deleted. Resolves once the new table version
   * is committed.
   */
  write(batch: IndexBatch): Promise<void> {
    if (this.#closed) return Promise.reject(new OgclipError(`${describe(this.o.location)}: the index writer is closed`));
    const w = this.#write(batch);
    this.#writes.add(w);
    void w.then(
      () => this.#writes.delete(w),
      () => this.#writes.delete(w),
    );
    return w;
  }

  async #write(batch: IndexBatch): Promise<void> {
    if (batch.frameKeys.length === 0) return;
    // One row per key: LanceDB leaves duplicate keys within one merge-insert undefined.
    const rows = [...new Map(batch.rows.map((r) => [r.key, r])).values()];
    const frames = `frame_key IN (${[...new Set(batch.frameKeys)].map(sqlString).join(', ')})`;
    if (rows.length === 0) {
      // Frames without objects: nothing to insert, but earlier rows of theirs go (none when the table is new).
      const table = this.#table;
      if (table) await lance(this.o.location, 'delete', () => table.delete(frames));
      return;
    }
    const table = await this.#tableFor(rows[0]!.embedding.length);
    const data = makeArrowTable(rows as unknown as Record<string, unknown>[], { schema: this.#schema! });
    await lance(this.o.location, 'upsert', () =>
      table
        .mergeInsert('key')
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .whenNotMatchedBySourceDelete({ where: frames })
        .execute(data),
    );
    this.#sinceMaintenance += rows.length;
    // Maintenance runs beside the writes, never inside one: an IVF-PQ build over a large table
    // takes minutes, and a write waiting on it would stall the pipeline (and, live, drop frames).
    if (this.o.optimizeEveryRows > 0 && this.#sinceMaintenance >= this.o.optimizeEveryRows && !this.#maintaining && !this.#closed) {
      this.#startMaintenance();
    }
  }

  #startMaintenance(): Promise<void> {
    const m = this.maintain().finally(() => {
      if (this.#maintaining === m) this.#maintaining = undefined;
    });
    this.#maintaining = m;
    return m;
  }

  /** The maintenance running in the background, if any (it never rejects: failures are logged). */
  get maintaining(): Promise<void> | undefined {
    return this.#maintaining;
  }

  /**
   * Compacts the small fragments each upsert leaves, folds the rows written since into the ANN
   * index, and builds that index once the table holds ann.minRows. A failure is logged, not
   * thrown: the rows are already committed, and the next maintenance does the work. The writes
   * start it in the background every optimizeEveryRows rows; LanceDB commits it like any other
   * writer's change (a compaction that conflicts with a write is retried at the next one).
   */
  async maintain(): Promise<void> {
    const table = this.#table;
    if (!table) return;
    const pending = this.#sinceMaintenance;
    this.#sinceMaintenance = 0;
    try {
      await table.optimize();
      // B-tree indexes on the merge key and the frame key: each write joins on `key` and scans `frame_key`.
      const scalar = new Set((await table.listIndices()).flatMap((i) => i.columns));
      for (const column of ['key', 'frame_key']) {
        if (!scalar.has(column)) await table.createIndex(column, { config: Index.btree() });
      }
      if (!this.#hasAnn) {
        const rows = await table.countRows();
        if (rows >= this.o.ann.minRows) await this.buildAnn();
      }
    } catch (err) {
      this.#sinceMaintenance += pending; // still owed: the next maintenance, or close, does it
      this.o.log?.(`${describe(this.o.location)}: maintenance failed, retried at the next one (${(err as Error).message})`);
    }
  }

  /**
   * Builds the IVF-PQ index over every row now in the table with the writer's ann settings,
   * replacing one built before (maintenance builds it once, at ann.minRows rows; a new setting
   * needs it built again).
   */
  async buildAnn(): Promise<void> {
    const table = this.#table;
    if (!table) throw new ConfigError(`${describe(this.o.location)}: no table yet, nothing to index`);
    const { numPartitions, numSubVectors, numBits } = this.o.ann;
    await table.createIndex(EMBEDDING_COLUMN, {
      replace: true,
      config: Index.ivfPq({
        distanceType: 'cosine',
        numBits,
        ...(numPartitions > 0 ? { numPartitions } : {}),
        ...(numSubVectors > 0 ? { numSubVectors } : {}),
      }),
    });
    this.#hasAnn = true;
    this.o.log?.(`${describe(this.o.location)}: IVF-PQ index built over ${await table.countRows()} objects`);
  }

  /**
   * Refuses further writes, waits for the writes and the maintenance under way, runs a last
   * maintenance when rows were written since the previous one, then closes. Calling it again
   * gives the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.allSettled([...this.#writes]);
      while (this.#maintaining) await this.#maintaining;
      if (this.#sinceMaintenance > 0) await this.#startMaintenance();
      this.#table?.close();
      this.db.close();
    })();
    return this.#closed;
  }
}

/** A LanceDB call whose failure is retriable (I/O, a commit that lost to other writers), unless it is a ConfigError. */
async function lance<T>(location: IndexLocation, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof OgclipError) throw err;
    throw new OgclipError(`${describe(location)}: ${what} failed (${(err as Error).message})`, { retriable: true, cause: err });
  }
}
