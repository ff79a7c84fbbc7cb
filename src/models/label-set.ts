import { ConfigError } from '../errors.js';
import { l2normalise } from '../tensor/vector.js';
import type { ClipText } from './clip.js';

/**
 * The label vocabulary and its CLIP text embeddings, encoded once by the text tower and
 * cached. `replace()` swaps the whole set while the pipeline runs (e.g. from a control topic);
 * frames already past the similarity stage keep the labels they were scored against.
 */
export class LabelSet {
  #labels: readonly string[] = [];
  #embeddings: Float32Array[] = [];
  #version = 0;
  readonly #cache = new Map<string, Float32Array>();
  #waiters: (() => void)[] = [];

  #template: string;

  private constructor(
    private readonly text: ClipText,
    template: string,
  ) {
    this.#template = template;
  }

  /** template: how a label becomes a prompt, `{}` is the label ("a photo of {}"). */
  static async create(text: ClipText, labels: readonly string[], template = '{}'): Promise<LabelSet> {
    checkTemplate(template);
    const set = new LabelSet(text, template);
    await set.replace(labels);
    return set;
  }

  get labels(): readonly string[] {
    return this.#labels;
  }

  get embeddings(): readonly Float32Array[] {
    return this.#embeddings;
  }

  get version(): number {
    return this.#version;
  }

  get template(): string {
    return this.#template;
  }

  /** Swaps the labels, and the template when one is given (the cached embeddings go with the old one). */
  async replace(labels: readonly string[], template = this.#template): Promise<void> {
    checkTemplate(template);
    const clean = [...new Set(labels.map((l) => l.trim()).filter((l) => l.length > 0))];
    if (clean.length === 0) throw new ConfigError('the label set is empty: give at least one label');
    if (template !== this.#template) {
      this.#cache.clear();
      this.#template = template;
    }
    const missing = clean.filter((l) => !this.#cache.has(l));
    const embedded = await this.text.embed(missing.map((l) => template.replace('{}', l)));
    missing.forEach((l, i) => this.#cache.set(l, l2normalise(embedded[i]!)));
    this.#labels = clean;
    this.#embeddings = clean.map((l) => this.#cache.get(l)!);
    this.#version++;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves at the next replace(). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

function checkTemplate(template: string): void {
  if (!template.includes('{}')) throw new ConfigError(`label template "${template}" must contain {} where the label goes`);
}
