import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../errors.js';
import { embeddingOf, labelsOf, type FrameRecord } from '../record.js';
import { annotate } from '../sinks/annotated-png-sink.js';
import { collectSink } from '../sinks/collect-sink.js';
import { float32Base64 } from '../sinks/messages.js';
import { encodeRle } from '../masks/rle.js';
import { contentTypeOf } from '../sources/content-type.js';
import { memorySource } from '../sources/memory-source.js';
import { defaultTopology } from '../topology/default-topology.js';
import { startTopology } from '../topology/start-topology.js';
import type { Sam2Prompt } from '../models/sam2.js';
import { DEFAULT_BUNDLE, parseNumberList } from './cli-options.js';

interface CommonOptions {
  bundle: string;
  embedder: 'object-guided' | 'crop';
  labels?: string;
  pointsPerSide?: number;
}

/** Runs one image through the pipeline and returns its record (or throws its error). */
async function processImage(path: string, opts: CommonOptions, prompts: readonly Sam2Prompt[] | undefined): Promise<FrameRecord> {
  const bytes = await readFile(path).catch(() => {
    throw new ConfigError(`${path}: cannot read the image file`);
  });
  const t = defaultTopology(resolve(opts.bundle), {
    embedder: opts.embedder,
    sam2: { mode: 'automatic', ...(opts.pointsPerSide ? { pointsPerSide: opts.pointsPerSide } : {}) },
    ...(opts.labels ? { labels: { list: opts.labels.split(',').map((l) => l.trim()) } } : {}),
  });
  const ct = contentTypeOf(path);
  const record: FrameRecord = {
    streamId: 'cli',
    frameId: path,
    timestamp: Date.now(),
    receivedAt: performance.now(),
    origin: { kind: 'file', path },
    payload: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    ...(ct ? { contentType: ct } : {}),
    ...(prompts ? { prompts } : {}),
    timings: {},
  };
  const sink = collectSink();
  const run = await startTopology(t, { source: memorySource([record]), extraSinks: [sink] });
  await run.done;
  const r = sink.records[0]!;
  if (r.error) throw new ConfigError(`${path}: ${r.error.stage} failed (${r.error.code}): ${r.error.message}`);
  return r;
}

function addCommon(cmd: Command): Command {
  return cmd
    .option('--bundle <dir>', 'model bundle folder', DEFAULT_BUNDLE)
    .option('--embedder <kind>', 'object-guided | crop (training-free baseline)', 'object-guided')
    .option('--labels <list>', "comma-separated label set (default: the bundle's labels)")
    .option('--points-per-side <n>', 'automatic mask grid', (v) => Number.parseInt(v, 10));
}

export function registerEmbed(program: Command): void {
  addCommon(
    program
      .command('embed')
      .description('object embedding(s) of one image and their top labels, as JSON')
      .argument('<image>', 'JPEG, PNG or WebP file')
      .option('--point <x,y>', 'positive click on the object (pixels)', parseNumberList(2, '--point'))
      .option('--box <x1,y1,x2,y2>', 'box around the object (pixels)', parseNumberList(4, '--box')),
  ).action(async (image: string, opts: CommonOptions & { point?: number[]; box?: number[] }) => {
    const prompt: Sam2Prompt | undefined =
      opts.point || opts.box
        ? {
            ...(opts.point ? { points: [[opts.point[0]!, opts.point[1]!] as const], labels: [1 as const] } : {}),
            ...(opts.box ? { box: [opts.box[0]!, opts.box[1]!, opts.box[2]!, opts.box[3]!] as const } : {}),
          }
        : undefined;
    const r = await processImage(image, opts, prompt ? [prompt] : undefined);
    const objects = (r.objects ?? []).map((o) => {
      const embedding = embeddingOf(o);
      return {
        id: o.index,
        box: o.box,
        score: Number(o.score.toFixed(4)),
        labels: labelsOf(o),
        embedding: embedding ? Array.from(embedding, (v) => Number(v.toFixed(6))) : [],
        embedding_base64: embedding ? float32Base64(embedding) : '',
      };
    });
    process.stdout.write(JSON.stringify({ image, objects }, null, 2) + '\n');
  });
}

export function registerDetect(program: Command): void {
  addCommon(
    program
      .command('detect')
      .description('zero-shot detections of one image as JSON; --out writes an annotated PNG')
      .argument('<image>', 'JPEG, PNG or WebP file')
      .option('--out <png>', 'annotated frame (masks, boxes, labels)'),
  ).action(async (image: string, opts: CommonOptions & { out?: string }) => {
    const r = await processImage(image, opts, undefined);
    const detections = (r.detections ?? []).map((d) => ({
      label: d.label,
      score: Number(d.score.toFixed(4)),
      box: d.box,
      mask: encodeRle(d.mask),
    }));
    if (opts.out) {
      if (!r.image) throw new ConfigError(`${image}: the pipeline kept no pixels to annotate`);
      await writeFile(opts.out, await annotate(r.image.rgb, r.detections ?? []));
    }
    process.stdout.write(JSON.stringify({ image, width: r.image?.rgb.width, height: r.image?.rgb.height, detections }, null, 2) + '\n');
  });
}
