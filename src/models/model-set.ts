import { ConfigError, ModelFormatError } from '../errors.js';
import { OBJECT_CALL_CAP, callSizes, type BatchShapes } from './batch-shapes.js';
import { DEFAULT_CROP, type CropSpec } from '../masks/crop.js';
import { access } from 'node:fs/promises';
import { CLIP_MEAN, CLIP_STD, SAM2_MEAN, SAM2_STD, dtypeFile, type Bundle, type BundleManifest, type ModelDtype } from './bundle.js';
import { ClipText, ClipTokenizer, ClipVision, JOINT_VISION_TOKENS, clipTextChoice, clipVisionChoice } from './clip.js';
import { HeadPart, fusionSpec, maskBranchSpec, objectBranchSpec, projectionSpec } from './head.js';
import { InferenceClient, defaultSupervision, type SupervisionOptions } from './inference-client.js';
import { InferencePool } from './inference-pool.js';
import type { InferenceRuntime } from './inference-runtime.js';
import { OnnxModel, type SpecFor } from './onnx-model.js';
import { OnnxCommunitySam2, onnxCommunityDecoderSpec, onnxCommunityEncoderSpec } from './sam2-onnx-community.js';
import type { Sam2Model, Sam2Prompt } from './sam2.js';
import { SamExporterSam2, samExporterDecoderSpec, samExporterEncoderSpec } from './sam2-samexporter.js';
import { defaultSessionOptions, type SessionOptions } from './session-options.js';

type Norm = { readonly mean: readonly number[]; readonly std: readonly number[] };

export interface ObjectGuidedHead {
  readonly objectBranch: HeadPart;
  readonly maskBranch: HeadPart;
  readonly fusion: HeadPart;
  readonly projection: HeadPart;
  readonly objectSize: number;
  readonly maskSize: number;
  /** The head's own crops, one per object scale (object windows, masked), stacked on channels: [3K,R,R]. */
  readonly crops: readonly CropSpec[];
}

/** Every model of a bundle, opened in the inference workers and checked at load. */
export interface ModelSet {
  readonly bundle: Bundle;
  readonly modelVersion: string; // name@version, carried on every output
  readonly sam2: Sam2Model;
  readonly sam2Norm: Norm;
  readonly clipVision: ClipVision;
  readonly clipText: ClipText;
  readonly clipNorm: Norm;
  readonly head: ObjectGuidedHead | undefined;
  /** Framing of the training-free crop embedder (`cropBaselineOf` the manifest). */
  readonly cropBaseline: CropSpec;
  /** The inference worker, or the pool of them (`workers` > 1), hosting every session. */
  readonly worker: InferenceRuntime;
  /** How the adapters size their calls (the session options'). */
  readonly batchShapes: BatchShapes;
  dispose(): Promise<void>;
}

export async function openModelSet(
  bundle: Bundle,
  options: SessionOptions = defaultSessionOptions,
  supervision: SupervisionOptions = defaultSupervision,
  workers = 1,
): Promise<ModelSet> {
  const m = bundle.manifest;
  const worker: InferenceRuntime = workers > 1 ? InferencePool.start(workers, supervision) : InferenceClient.start(supervision);
  const opened: { dispose(): Promise<void> }[] = [];
  const open = async (section: 'sam2' | 'clip' | 'head', rel: string, dtype: ModelDtype, spec: SpecFor) => {
    const path = await modelFile(bundle, section, rel, dtype);
    const model = await OnnxModel.open(worker, path, spec, options);
    opened.push(model);
    return model;
  };
  try {
    const size = m.sam2.input_size;
    const sd = m.sam2.dtype;
    const sam2 =
      m.sam2.format === 'onnx-community'
        ? new OnnxCommunitySam2(
            await open('sam2', m.sam2.encoder, sd, onnxCommunityEncoderSpec(size)),
            await open('sam2', m.sam2.decoder, sd, onnxCommunityDecoderSpec),
            size,
          )
        : new SamExporterSam2(
            await open('sam2', m.sam2.encoder, sd, samExporterEncoderSpec(size)),
            await open('sam2', m.sam2.decoder, sd, samExporterDecoderSpec),
            size,
          );
    const tokenizer = await ClipTokenizer.open(
      bundle.file(m.clip.tokenizer),
      m.clip.tokenizer_config ? bundle.file(m.clip.tokenizer_config) : undefined,
      m.clip.context_length,
    );
    const v = m.clip.image_size;
    const visionModel = await open('clip', m.clip.vision, m.clip.dtype, clipVisionChoice(v));
    const clipVision = new ClipVision(visionModel, v);
    // One joint model.onnx named for both sides is opened once and shared.
    const sameJoint = clipVision.joint && bundle.file(m.clip.text) === bundle.file(m.clip.vision);
    const textModel = sameJoint ? visionModel : await open('clip', m.clip.text, m.clip.dtype, clipTextChoice(v));
    const clipText = new ClipText(textModel, tokenizer, v);
    const sizes: EmbeddingSize[] = [
      { what: 'the CLIP text tower (text_embeds)', path: textModel.path, dim: textModel.dim('text_embeds', 1) },
      { what: 'the CLIP vision tower (image_embeds, the crop embedder)', path: visionModel.path, dim: visionModel.dim('image_embeds', 1) },
    ];
    let head: ObjectGuidedHead | undefined;
    if (m.head) {
      const h = m.head;
      if (!clipVision.tokenOutput) {
        throw new ModelFormatError(
          `${clipVision.path}: a joint CLIP model without vision tokens (no "${JOINT_VISION_TOKENS}" output; the public joint export ` +
            'has only embeddings and logits), but the object-guided head pools them: name the split vision tower ' +
            '(onnx/vision_model.onnx) as clip.vision, or drop the head and use embedder "crop"',
        );
      }
      const hd = h.dtype;
      const projection = await open('head', h.projection, hd, projectionSpec);
      sizes.push({ what: 'the head (projection embeds)', path: projection.path, dim: projection.dim('embeds', 1) });
      head = {
        objectBranch: new HeadPart(
          await open('head', h.object_branch, hd, objectBranchSpec(h.object_size, 3 * h.object_scales.length)),
          'object_features',
        ),
        maskBranch: new HeadPart(await open('head', h.mask_branch, hd, maskBranchSpec(h.mask_size)), 'mask_features'),
        fusion: new HeadPart(await open('head', h.fusion, hd, fusionSpec), 'fused'),
        projection: new HeadPart(projection, 'embeds'),
        objectSize: h.object_size,
        maskSize: h.mask_size,
        crops: h.object_scales.map((s) => ({ ...headCropOf(h), margin: h.crop_margin * s })),
      };
    }
    checkEmbeddingSizes(bundle, sizes);
    return {
      bundle,
      modelVersion: `${m.name}@${m.version}`,
      sam2,
      sam2Norm: { mean: m.sam2.mean ?? SAM2_MEAN, std: m.sam2.std ?? SAM2_STD },
      clipVision,
      clipText,
      clipNorm: { mean: m.clip.mean ?? CLIP_MEAN, std: m.clip.std ?? CLIP_STD },
      head,
      cropBaseline: cropBaselineOf(m),
      worker,
      batchShapes: options.batchShapes,
      dispose: async () => {
        await Promise.allSettled(opened.map((o) => o.dispose()));
        await worker.close();
      },
    };
  } catch (err) {
    await Promise.allSettled(opened.map((o) => o.dispose()));
    await worker.close();
    throw err;
  }
}

/**
 * The file to open for a section's `rel` at its dtype; a missing fp16 / quantized variant is
 * named together with the fp32 file it was derived from.
 */
async function modelFile(bundle: Bundle, section: string, rel: string, dtype: ModelDtype): Promise<string> {
  const path = bundle.file(dtypeFile(rel, dtype));
  if (dtype === 'fp32') return path; // OnnxModel.open reports a missing file itself
  try {
    await access(path);
  } catch {
    throw new ModelFormatError(`${path}: file not found: ${section}.dtype "${dtype}" picks this file beside ${bundle.file(rel)}`);
  }
  return path;
}

/** The head's crop framing: an object window from `crop_margin` / `crop_pad`, outside the mask 0. */
export function headCropOf(h: NonNullable<BundleManifest['head']>): CropSpec {
  return { window: 'object', margin: h.crop_margin, pad: h.crop_pad, context: 'masked' };
}

/**
 * The crop baseline's framing: bundle.json's `crop_baseline` when present, else the head's crop,
 * else DEFAULT_CROP (an object window, margin 1.25, pad 4, masked).
 */
export function cropBaselineOf(m: BundleManifest): CropSpec {
  const c = m.crop_baseline;
  if (c?.window === 'object') return { window: 'object', margin: c.margin, pad: c.pad, context: c.context };
  if (c?.window === 'fixed') return { window: 'fixed', sideFraction: c.side_fraction, context: c.context };
  return m.head ? headCropOf(m.head) : DEFAULT_CROP;
}

/** The head a topology asked for, or a ConfigError saying which bundles have one. */
export function requireHead(models: ModelSet): ObjectGuidedHead {
  if (!models.head) {
    throw new ConfigError(
      `bundle ${models.modelVersion} has no object-guided head: use embedder "crop" (training-free) or a bundle built by the model factory`,
    );
  }
  return models.head;
}

/** The largest calls the stages will make: with `batchShapes`, they bound the call sizes to warm up. */
export interface WarmUpLimits {
  readonly framesPerCall: number; // the SAM2 encoder (batching.maxSize)
  readonly promptsPerCall: number; // the SAM2 decoder (sam2.pointsPerBatch)
  /**
   * Box-only prompts too (prompted mode). Off otherwise: the first box-only call of a decoder that
   * needs a padding point (the factory's) fails once by design (`OnnxCommunitySam2`), and
   * onnxruntime logs that failure; a box with a click, the same shape for such a decoder, is
   * always warmed.
   */
  readonly boxPrompts: boolean;
}

/**
 * Runs of every model at start, through the same adapters the stages use, so that frames do not
 * pay onnxruntime's first-run cost for a shape (graph set-up, memory planning, arena growth) and
 * a model that cannot run fails before any frame is taken: every call size the runtime's
 * `batchShapes` can give up to `limits` (one size with exact shapes), on every worker.
 */
export async function warmUp(
  models: ModelSet,
  limits: WarmUpLimits = { framesPerCall: 1, promptsPerCall: 1, boxPrompts: false },
): Promise<void> {
  await models.worker.onEachWorker(() => warmUpOnce(models, limits));
}

async function warmUpOnce(models: ModelSet, limits: WarmUpLimits): Promise<void> {
  const shapes = models.batchShapes;
  const s = models.sam2.inputSize;
  const frame = { data: new Float32Array(3 * s * s), channels: 3, height: s, width: s };
  // Frames of one encoder call: its sizes only (a call is split, never padded).
  for (const n of callSizes(shapes, Math.min(limits.framesPerCall, models.sam2.maxEncoderBatch))) {
    const embs = await models.sam2.encode(Array.from({ length: n }, () => frame));
    for (const e of embs.slice(1)) models.sam2.release(e);
    const [emb] = embs;
    if (n > 1 || !emb) {
      if (emb) models.sam2.release(emb);
      continue;
    }
    // Kept in the worker until released: a warm-up frame must not hold them for the model set's life.
    try {
      // A click (the automatic grid's shape) and a box with a click (a box-only prompt's shape for
      // decoders that need a padding point, as the factory's); box-only prompts too in prompted mode.
      const box = [s / 4, s / 4, (3 * s) / 4, (3 * s) / 4] as const;
      const kinds: Sam2Prompt[] = [
        { points: [[s / 2, s / 2]], labels: [1] },
        { points: [[s / 2, s / 2]], labels: [1], box },
      ];
      if (limits.boxPrompts) kinds.push({ box });
      // A batch of promptsPerCall prompts may be padded up to the next power of two.
      for (const prompt of kinds)
        for (const p of callSizes(shapes, limits.promptsPerCall, false))
          await models.sam2.decode(
            emb,
            Array.from({ length: p }, () => prompt),
            s,
            s,
          );
    } finally {
      models.sam2.release(emb);
    }
  }
  await models.clipText.embed(['a photo']);
  const v = models.clipVision.imageSize;
  const h = models.head;
  for (const n of callSizes(shapes, OBJECT_CALL_CAP)) {
    const image = { data: new Float32Array(3 * v * v), channels: 3, height: v, width: v };
    const vision = await models.clipVision.embed(Array.from({ length: n }, () => image));
    if (!h || !vision[0]) continue;
    const zeros = (dims: readonly number[]) => ({ dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)) });
    const o = await h.objectBranch.run({ object_pixels: zeros([n, 3 * h.crops.length, h.objectSize, h.objectSize]) });
    const k = await h.maskBranch.run({ object_mask: zeros([n, 1, h.maskSize, h.maskSize]) });
    const f = await h.fusion.run({
      object_features: zeros([n, o[0]!.length]),
      mask_features: zeros([n, k[0]!.length]),
      clip_features: zeros([n, vision[0].dim + vision[0].embeds.length]),
    });
    await h.projection.run({ fused: zeros([n, f[0]!.length]) });
  }
}

interface EmbeddingSize {
  readonly what: string;
  readonly path: string;
  readonly dim: number | undefined; // undefined: the file leaves it dynamic
}

/**
 * Object embeddings are scored against text embeddings by a dot product: every embedding the
 * bundle makes must have the text tower's size (and bundle.json's `embedding_dim`, when given).
 * A mismatch would otherwise give NaN scores and no detections, silently.
 */
function checkEmbeddingSizes(bundle: Bundle, sizes: readonly EmbeddingSize[]): void {
  const declared = bundle.manifest.embedding_dim;
  const known = sizes.filter((s) => s.dim !== undefined);
  const all = new Set([...known.map((s) => s.dim), ...(declared === undefined ? [] : [declared])]);
  if (all.size <= 1) return;
  const parts = known.map((s) => `${s.what} gives ${s.dim} (${s.path})`);
  if (declared !== undefined) parts.push(`bundle.json embedding_dim is ${declared}`);
  throw new ModelFormatError(
    `${bundle.dir}: embedding sizes disagree: ${parts.join('; ')}. Objects are scored against texts in one space: ` +
      'train a head for this CLIP (python -m ogclip_factory.user_build) or fix embedding_dim',
  );
}
