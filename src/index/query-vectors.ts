import { ConfigError } from '../errors.js';
import { LabelSet } from '../models/label-set.js';
import type { ModelSet } from '../models/model-set.js';
import type { Sam2Prompt } from '../models/sam2.js';
import { embeddingOf, labelsOf, type FrameRecord, type ObjectLabel } from '../record.js';
import { collectSink } from '../sinks/collect-sink.js';
import { contentTypeOf } from '../sources/content-type.js';
import { memorySource } from '../sources/memory-source.js';
import { defaultTopology } from '../topology/default-topology.js';
import { startTopology } from '../topology/start-topology.js';
import type { Box, Mask } from '../masks/mask.js';

/**
 * The query vector of a text: the text goes through the bundle's text tower exactly as a label
 * does (LabelSet: the template, then L2-normalised), so a query scores objects as the label
 * "text" would. `template` should be the one the index was written with (its manifest's).
 */
export async function textQueryVector(models: ModelSet, text: string, template = '{}'): Promise<Float32Array> {
  if (text.trim().length === 0) throw new ConfigError('the search text is empty: say what to look for ("a small red circle")');
  const set = await LabelSet.create(models.clipText, [text], template);
  return set.embeddings[0]!;
}

/** The object an example image's prompt selects: its embedding, and what the pipeline made of it. */
export interface ExampleObject {
  readonly embedding: Float32Array;
  readonly box: Box;
  readonly mask: Mask;
  readonly labels: readonly ObjectLabel[];
}

export interface ExampleQuery {
  /** The image file's bytes, and its path (named in errors; its extension gives the content type). */
  readonly bytes: Uint8Array;
  readonly path: string;
  /** A click (`points`, `labels` 1) or a box around the object, in pixels. */
  readonly prompt: Sam2Prompt;
  /** The embedder the index was written with (its manifest's). */
  readonly embedder: 'object-guided' | 'crop';
}

/**
 * Query by example: the image runs through the pipeline's prompted path (decode -> SAM2 with the
 * prompt -> the embedder), as `ogclip embed --point/--box` does, and the selected object's
 * embedding is the query vector.
 */
export async function exampleQueryVector(models: ModelSet, q: ExampleQuery): Promise<ExampleObject> {
  const t = defaultTopology(models.bundle.dir, { embedder: q.embedder, sam2: { mode: 'prompted' } });
  const ct = contentTypeOf(q.path);
  const record: FrameRecord = {
    streamId: 'query',
    frameId: q.path,
    timestamp: Date.now(),
    receivedAt: performance.now(),
    origin: { kind: 'file', path: q.path },
    payload: q.bytes,
    ...(ct ? { contentType: ct } : {}),
    prompts: [q.prompt],
    timings: {},
  };
  const sink = collectSink();
  const run = await startTopology(t, { source: memorySource([record]), models, extraSinks: [sink], log: () => {} });
  await run.done;
  const r = sink.records[0];
  if (!r) throw new ConfigError(`${q.path}: the pipeline returned no record`);
  if (r.error) throw new ConfigError(`${q.path}: ${r.error.stage} failed (${r.error.code}): ${r.error.message}`);
  const o = r.objects?.[0];
  const embedding = o && embeddingOf(o);
  if (!o || !embedding) throw new ConfigError(`${q.path}: the prompt selected no object: click inside the object, or draw a box around it`);
  return { embedding, box: o.box, mask: o.mask, labels: labelsOf(o) ?? [] };
}
