import test from 'ava';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBundle, type ModelDtype } from '../../src/models/bundle.js';
import { clipTextFeeds, clipVisionSpec, JOINT_VISION_TOKENS, visionTokenOutput } from '../../src/models/clip.js';
import { InferenceClient } from '../../src/models/inference-client.js';
import { openModelSet, type ModelSet } from '../../src/models/model-set.js';
import { OnnxModel } from '../../src/models/onnx-model.js';
import { defaultSessionOptions } from '../../src/models/session-options.js';
import { ModelFormatError } from '../../src/errors.js';
import { FIXTURES, ROOT } from '../helpers/paths.js';
import { patternImage, readParity, relativeError, TOLERANCE, variantBundle, type ClipParity } from './variant-fixtures.js';

const VARIANTS = `${FIXTURES}clip-variants-tiny-random/onnx/`;

let p: ClipParity;
test.before(async () => {
  p = await readParity<ClipParity>('clip-variants-tiny-random');
});

/** Both towers of a model set against the PyTorch references, within the dtype's tolerance. */
async function checkParity(t: import('ava').ExecutionContext, models: ModelSet, dtype: ModelDtype, joint: boolean): Promise<void> {
  const texts = await models.clipText.embed(p.texts);
  const [vision] = await models.clipVision.embed([patternImage(p.image_size)]);
  const refText = joint ? p.joint.text_embeds : p.text.text_embeds;
  const refImage = joint ? p.joint.image_embeds : p.vision.image_embeds;
  const tol = TOLERANCE[dtype];
  t.true(relativeError([...texts[0]!, ...texts[1]!], refText) < tol, `text_embeds ${relativeError([...texts[0]!, ...texts[1]!], refText)}`);
  t.true(relativeError(vision!.embeds, refImage) < tol, `image_embeds ${relativeError(vision!.embeds, refImage)}`);
  if (!joint) {
    t.deepEqual([vision!.tokens, vision!.dim], p.vision.dims.slice(1));
    t.true(relativeError(vision!.hidden, p.vision.last_hidden_state) < tol, 'last_hidden_state');
  }
}

test('text tower with attention_mask and position_ids: the tokenizer ids and the mask match, embeddings match PyTorch', async (t) => {
  const models = await openModelSet(await readBundle(`${FIXTURES}variants-bundle`));
  try {
    const tok = models.clipText.tokenizer;
    const ids = new BigInt64Array(p.texts.length * tok.contextLength);
    p.texts.forEach((s, i) => ids.set(tok.encode(s), i * tok.contextLength));
    t.deepEqual(Array.from(ids, Number), p.input_ids.flat());
    const feeds = clipTextFeeds(ids, p.texts.length, tok.eos, () => true);
    t.deepEqual(Array.from(feeds.attention_mask!.data as BigInt64Array, Number), p.attention_mask.flat());
    t.deepEqual(feeds.position_ids!.dims, [2, 77]);
    t.is(Number(feeds.position_ids!.data[77 + 5]), 5);
    t.deepEqual(Object.keys(clipTextFeeds(ids, 2, tok.eos, (n) => n === 'input_ids')), ['input_ids']);
    await checkParity(t, models, 'fp32', false);
  } finally {
    await models.dispose();
  }
});

test('external data: a vision tower whose weights sit in vision_model.onnx_data loads from its path', async (t) => {
  const worker = InferenceClient.start();
  const alone = await mkdtemp(join(tmpdir(), 'ogclip-extdata-'));
  try {
    const model = await OnnxModel.open(worker, `${VARIANTS}vision_model.onnx`, clipVisionSpec(64), defaultSessionOptions);
    t.is(model.dim('pixel_values', 2), 64);
    await model.dispose();
    // Without its side file the error names the model file.
    await copyFile(`${VARIANTS}vision_model.onnx`, join(alone, 'vision_model.onnx'));
    const err = await t.throwsAsync(OnnxModel.open(worker, join(alone, 'vision_model.onnx'), clipVisionSpec(64), defaultSessionOptions), {
      instanceOf: ModelFormatError,
    });
    t.regex(err!.message, /vision_model\.onnx: onnxruntime could not load it/);
  } finally {
    await worker.close();
    await rm(alone, { recursive: true, force: true });
  }
});

for (const dtype of ['fp16', 'quantized'] as const) {
  test(`clip.dtype "${dtype}" loads the *_${dtype}.onnx files and matches PyTorch within its tolerance`, async (t) => {
    const b = await variantBundle({ clip: { dtype } });
    const models = await openModelSet(await readBundle(b.dir));
    try {
      t.is(models.bundle.manifest.clip.dtype, dtype);
      await checkParity(t, models, dtype, false);
    } finally {
      await models.dispose();
      await b.dispose();
    }
  });
}

test('fp16 files come in both forms: float16 I/O (vision) and float32 I/O around a float16 graph (text)', async (t) => {
  const worker = InferenceClient.start();
  try {
    const spec = clipVisionSpec(64);
    const vision = await OnnxModel.open(worker, `${VARIANTS}vision_model_fp16.onnx`, spec, defaultSessionOptions);
    t.deepEqual(
      [...vision.inputs, ...vision.outputs].map((m) => m.type),
      ['float16', 'float16', 'float16'],
    );
    await vision.dispose();
    const { clipTextSpec } = await import('../../src/models/clip.js');
    const text = await OnnxModel.open(worker, `${VARIANTS}text_model_fp16.onnx`, clipTextSpec, defaultSessionOptions);
    t.deepEqual(
      text.outputs.map((m) => m.type),
      ['float32', 'float32'],
    );
    await text.dispose();
  } finally {
    await worker.close();
  }
});

test('a dtype whose variant file is missing names it and the fp32 file it derives from', async (t) => {
  const b = await variantBundle({ sam2: { dtype: 'fp16' } });
  try {
    const err = await t.throwsAsync(openModelSet(await readBundle(b.dir)), { instanceOf: ModelFormatError });
    t.regex(err!.message, /vision_encoder_fp16\.onnx: file not found: sam2\.dtype "fp16" picks this file beside .*vision_encoder\.onnx/);
  } finally {
    await b.dispose();
  }
});

test('a bundle.json dtype outside the enum is refused with the allowed values', async (t) => {
  const b = await variantBundle({ clip: { dtype: 'int4' } });
  try {
    const err = await t.throwsAsync(readBundle(b.dir));
    t.regex(err!.message, /clip\.dtype: must be one of "fp32", "fp16", "quantized"/);
  } finally {
    await b.dispose();
  }
});

test('joint model.onnx named for both towers: opened once, each side feeds a dummy other modality, matches PyTorch', async (t) => {
  const joint = 'clip-variants-tiny-random/onnx/model.onnx';
  const b = await variantBundle({ clip: { vision: joint, text: joint } });
  const models = await openModelSet(await readBundle(b.dir));
  try {
    t.true(models.clipVision.joint);
    t.true(models.clipText.joint);
    t.is(models.clipVision.tokenOutput, undefined);
    await checkParity(t, models, 'fp32', true);
    const [out] = await models.clipVision.embed([patternImage(64)]);
    t.deepEqual([out!.tokens, out!.dim, out!.hidden.length], [0, 0, 0]);
  } finally {
    await models.dispose();
    await b.dispose();
  }
});

test('a joint model without vision tokens is refused when the bundle has a head, naming the file and the fix', async (t) => {
  const joint = 'clip-variants-tiny-random/onnx/model.onnx';
  const head = `${ROOT}models/ogclip-shapes-tiny/head/`;
  const b = await variantBundle({
    clip: { vision: joint, text: joint },
    head: {
      object_branch: `${head}object_branch.onnx`,
      mask_branch: `${head}mask_branch.onnx`,
      fusion: `${head}fusion.onnx`,
      projection: `${head}projection.onnx`,
      object_size: 64,
      mask_size: 64,
    },
  });
  try {
    const err = await t.throwsAsync(openModelSet(await readBundle(b.dir)), { instanceOf: ModelFormatError });
    t.regex(err!.message, /model\.onnx: a joint CLIP model without vision tokens/);
    t.regex(err!.message, /vision_model\.onnx/);
  } finally {
    await b.dispose();
  }
});

test('vision tokens: last_hidden_state of a split tower, vision_last_hidden_state of a joint file when it has one', (t) => {
  const m = (name: string) => ({ name, type: 'float32', shape: [] });
  const split = [m('pixel_values')];
  const joint = [m('input_ids'), m('pixel_values')];
  t.is(visionTokenOutput(split, [m('image_embeds'), m('last_hidden_state')]), 'last_hidden_state');
  t.is(visionTokenOutput(joint, [m('image_embeds'), m('text_embeds'), m('last_hidden_state')]), undefined);
  t.is(visionTokenOutput(joint, [m('image_embeds'), m(JOINT_VISION_TOKENS)]), JOINT_VISION_TOKENS);
});
