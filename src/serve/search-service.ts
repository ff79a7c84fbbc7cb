import { ConfigError } from '../errors.js';
import { checkIdentity } from '../index/index-manifest.js';
import type { SearchFilters } from '../index/index-filters.js';
import type { IndexedObject, ObjectHit, ObjectIndex } from '../index/object-index.js';
import { exampleQueryVector, textQueryVector, type ExampleObject } from '../index/query-vectors.js';
import type { Sam2Prompt } from '../models/sam2.js';
import type { ModelSet } from '../models/model-set.js';

/** A request the caller got wrong (bad parameter, unknown key): the HTTP layer answers 4xx with the message. */
export class RequestError extends Error {
  constructor(
    readonly status: 400 | 404 | 413 | 415,
    message: string,
  ) {
    super(message);
  }
}

/** What `search` answers: the hits, best first, and how many objects the filters let through. */
export interface SearchAnswer {
  readonly hits: readonly ObjectHit[];
  readonly candidates: number;
}

/**
 * The searches one index answers, with the models of the bundle that wrote it: by text (through
 * the bundle's text tower and the index's label template), by an example image's object, by an
 * indexed object, and plain listing by stream and time. One instance serves every request; the
 * index and the models are opened once by the caller and closed by it.
 */
export class SearchService {
  constructor(
    readonly index: ObjectIndex,
    private readonly models: ModelSet,
  ) {
    const m = index.manifest;
    const b = models.bundle.manifest;
    checkIdentity(
      m,
      { modelName: b.name, modelVersion: b.version, embedder: m.embedder },
      `index ${index.location.uri}`,
      `bundle ${models.bundle.dir}`,
    );
  }

  /** A text's query vector: the text tower with the index's label template, as its labels were made. */
  textVector(text: string): Promise<Float32Array> {
    if (text.trim().length === 0) throw new RequestError(400, 'the search text is empty: say what to look for ("a small red circle")');
    return textQueryVector(this.models, text, this.index.manifest.labelTemplate);
  }

  async byText(text: string, filters: SearchFilters, k: number): Promise<SearchAnswer> {
    return this.#answer(await this.textVector(text), filters, k);
  }

  /** The object a prompt selects in an image, and the indexed objects most like it. */
  async byExample(
    bytes: Uint8Array,
    prompt: Sam2Prompt,
    filters: SearchFilters,
    k: number,
  ): Promise<SearchAnswer & { readonly object: ExampleObject }> {
    let object: ExampleObject;
    try {
      object = await exampleQueryVector(this.models, { bytes, path: 'uploaded image', prompt, embedder: this.index.manifest.embedder });
    } catch (err) {
      // The image or the prompt is the caller's: a corrupt file, a click outside it, no object there.
      if (err instanceof ConfigError) throw new RequestError(400, err.message);
      throw err;
    }
    return { object, ...(await this.#answer(object.embedding, filters, k)) };
  }

  /** Objects like an indexed one (its own row comes first, with score 1). */
  async similarTo(key: string, filters: SearchFilters, k: number): Promise<SearchAnswer & { readonly object: IndexedObject }> {
    const found = await this.index.get(key);
    if (!found) throw new RequestError(404, `no object with key "${key}" in the index`);
    const { embedding, ...object } = found;
    return { object, ...(await this.#answer(embedding, filters, k)) };
  }

  /** Objects of the filters' stream and time window, newest first. */
  async browse(
    filters: SearchFilters,
    limit: number,
  ): Promise<{ readonly objects: readonly IndexedObject[]; readonly candidates: number }> {
    const [objects, candidates] = await Promise.all([this.index.newest(filters, limit), this.index.count(filters)]);
    return { objects, candidates };
  }

  async object(key: string): Promise<IndexedObject> {
    const found = await this.index.object(key);
    if (!found) throw new RequestError(404, `no object with key "${key}" in the index`);
    return found;
  }

  async #answer(vector: Float32Array, filters: SearchFilters, k: number): Promise<SearchAnswer> {
    const [hits, candidates] = await Promise.all([this.index.search(vector, filters, k), this.index.count(filters)]);
    return { hits, candidates };
  }
}
