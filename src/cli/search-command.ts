import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { ConfigError } from '../errors.js';
import { contactSheet } from '../index/contact-sheet.js';
import { parseTime, type SearchFilters } from '../index/index-filters.js';
import { checkIdentity } from '../index/index-manifest.js';
import { isUri } from '../index/index-sink.js';
import { openObjectIndex, type ObjectHit } from '../index/object-index.js';
import { exampleQueryVector, textQueryVector } from '../index/query-vectors.js';
import { readBundle } from '../models/bundle.js';
import { openModelSet } from '../models/model-set.js';
import type { Sam2Prompt } from '../models/sam2.js';
import { DEFAULT_BUNDLE, parseNumberList } from './cli-options.js';

interface SearchOptions {
  index: string;
  table: string;
  storageOption: Record<string, string>;
  bundle: string;
  k: number;
  stream?: string;
  since?: string;
  until?: string;
  json?: boolean;
  sheet?: string;
  image?: string;
  point?: number[];
  box?: number[];
  nprobes?: number;
  refineFactor?: number;
}

const positive = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a positive whole number, got "${v}"`);
  return n;
};

const keyValue = (v: string, all: Record<string, string>) => {
  const at = v.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`--storage-option must be key=value, got "${v}"`);
  return { ...all, [v.slice(0, at)]: v.slice(at + 1) };
};

/** A path as the reader typed it: relative to the working folder when it lies inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function originText(h: ObjectHit): string {
  const o = h.origin;
  if (o.kind === 'file') return `file ${shown(o.path)}`;
  if (o.kind === 'dataset') return `dataset ${shown(o.path)} #${o.index}`;
  if (o.kind === 'kafka') return `kafka ${o.topic}/${o.partition}@${o.offset}`;
  return 'memory';
}

function hitLine(h: ObjectHit, rank: number): string {
  const labels = h.labels
    .slice(0, 3)
    .map((l) => `${l.label} ${l.score.toFixed(2)}`)
    .join('; ');
  return [
    String(rank).padStart(3),
    h.score.toFixed(4),
    h.key,
    `stream ${h.streamId}`,
    `frame ${h.frameId}`,
    new Date(h.timestamp).toISOString(),
    `box [${h.box.join(',')}]`,
    labels || '(no labels)',
    originText(h),
  ].join('  ');
}

function hitJson(h: ObjectHit, rank: number) {
  return {
    rank,
    score: Number(h.score.toFixed(6)),
    key: h.key,
    stream_id: h.streamId,
    frame_id: h.frameId,
    timestamp: h.timestamp,
    object_id: h.objectId,
    box: h.box,
    labels: h.labels.map((l) => ({ label: l.label, score: Number(l.score.toFixed(5)) })),
    model: h.model,
    origin: h.origin,
  };
}

export function registerSearch(program: Command): void {
  program
    .command('search')
    .description(
      "objects of an index nearest to a text (through the bundle's text tower) or to an object of an example image (--image with --point or --box)",
    )
    .argument('[text]', 'what to look for, e.g. "a small red circle"')
    .requiredOption('--index <dir>', 'index folder or object-store URI (the path of an index sink)')
    .option('--table <name>', 'table inside the index', 'objects')
    .option('--storage-option <key=value>', 'object-store option for LanceDB (repeatable)', keyValue, {})
    .option('--bundle <dir>', "model bundle folder; must be the index's model version", DEFAULT_BUNDLE)
    .option('--k <n>', 'how many objects', positive('--k'), 10)
    .option('--stream <id>', 'only objects of this stream')
    .option('--since <time>', 'only frames captured at or after this time (ISO 8601 or ms since the epoch)')
    .option('--until <time>', 'only frames captured before this time (ISO 8601 or ms since the epoch)')
    .option('--json', 'one JSON object per hit and line')
    .option('--sheet <png>', 'contact sheet of the hits: the frame crops with their masks outlined')
    .option('--image <file>', 'query by example: the image holding the object')
    .option('--point <x,y>', 'with --image: a click on the object (pixels)', parseNumberList(2, '--point'))
    .option('--box <x0,y0,x1,y1>', 'with --image: a box around the object (pixels)', parseNumberList(4, '--box'))
    .option('--nprobes <n>', 'ANN partitions searched (default: recorded in the index)', positive('--nprobes'))
    .option(
      '--refine-factor <n>',
      'ANN candidates re-ranked exactly, times k (default: recorded in the index)',
      positive('--refine-factor'),
    )
    .action(async (text: string | undefined, o: SearchOptions) => {
      if ((text === undefined) === (o.image === undefined))
        throw new ConfigError('search: give either a text or --image (with --point or --box), not both');
      if (o.image && !o.point === !o.box) throw new ConfigError('search --image: give exactly one of --point x,y or --box x0,y0,x1,y1');
      if (!o.image && (o.point || o.box)) throw new ConfigError('search: --point and --box select an object of --image');
      const filters: SearchFilters = {
        ...(o.stream !== undefined ? { stream: o.stream } : {}),
        ...(o.since !== undefined ? { since: parseTime(o.since, '--since') } : {}),
        ...(o.until !== undefined ? { until: parseTime(o.until, '--until') } : {}),
      };
      const index = await openObjectIndex({
        uri: isUri(o.index) ? o.index : resolve(o.index),
        table: o.table,
        storageOptions: o.storageOption,
      });
      try {
        const bundle = await readBundle(resolve(o.bundle));
        const m = index.manifest;
        const identity = { modelName: bundle.manifest.name, modelVersion: bundle.manifest.version, embedder: m.embedder };
        checkIdentity(m, identity, `index ${o.index}`, `--bundle ${o.bundle}`);
        const models = await openModelSet(bundle);
        let vector: Float32Array;
        try {
          if (o.image) {
            const bytes = await readFile(o.image).catch(() => {
              throw new ConfigError(`${o.image}: cannot read the image file`);
            });
            const prompt: Sam2Prompt = o.point
              ? { points: [[o.point[0]!, o.point[1]!]], labels: [1] }
              : { box: [o.box![0]!, o.box![1]!, o.box![2]!, o.box![3]!] };
            vector = (
              await exampleQueryVector(models, { bytes: new Uint8Array(bytes), path: resolve(o.image), prompt, embedder: m.embedder })
            ).embedding;
          } else {
            vector = await textQueryVector(models, text!, m.labelTemplate);
          }
        } finally {
          await models.dispose();
        }
        const hits = await index.search(vector, filters, o.k, {
          ...(o.nprobes ? { nprobes: o.nprobes } : {}),
          ...(o.refineFactor ? { refineFactor: o.refineFactor } : {}),
        });
        const lines = hits.map((h, i) => (o.json ? JSON.stringify(hitJson(h, i + 1)) : hitLine(h, i + 1)));
        if (lines.length) process.stdout.write(lines.join('\n') + '\n');
        if (!o.json)
          process.stderr.write(`${hits.length} of ${await index.count(filters)} objects (index ${index.modelVersion}, ${m.embedder})\n`);
        if (o.sheet) {
          const sheet = await contactSheet(hits);
          await mkdir(dirname(resolve(o.sheet)), { recursive: true });
          await writeFile(o.sheet, sheet.png);
          for (const u of sheet.undrawn) process.stderr.write(`sheet: ${u.key} not drawn: ${u.reason}\n`);
          process.stderr.write(`sheet: ${o.sheet} (${hits.length - sheet.undrawn.length} of ${hits.length} hits drawn)\n`);
        }
      } finally {
        index.close();
      }
    });
}
