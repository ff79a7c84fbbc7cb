import test from 'ava';
import { readBundle } from '../../src/models/bundle.js';
import { openModelSet, requireHead, type ModelSet } from '../../src/models/model-set.js';
import { InferenceClient } from '../../src/models/inference-client.js';
import { OnnxModel } from '../../src/models/onnx-model.js';
import { onnxCommunityEncoderSpec } from '../../src/models/sam2-onnx-community.js';
import { clipTextSpec } from '../../src/models/clip.js';
import { defaultSessionOptions } from '../../src/models/session-options.js';
import { ConfigError, ModelFormatError } from '../../src/errors.js';
import { FIXTURES } from '../helpers/paths.js';

let models: ModelSet;

test.before(async () => {
  models = await openModelSet(await readBundle(`${FIXTURES}public-format-bundle`));
});

test.after.always(async () => {
  await models?.dispose();
});

test('SAM2 onnx-community: one encoder run per frame, point and box prompts decode to 3 masks each', async (t) => {
  const s = models.sam2.inputSize;
  const frame = { data: new Float32Array(3 * s * s).fill(0.1), channels: 3, height: s, width: s };
  const [emb] = await models.sam2.encode([frame]);
  t.deepEqual(emb!.dims['image_embeddings.0'], [1, 32, 256, 256]);
  t.deepEqual(emb!.dims['image_embeddings.2'], [1, 256, 64, 64]);
  const points = await models.sam2.decode(
    emb!,
    [
      { points: [[100, 120]] },
      {
        points: [
          [10, 10],
          [50, 60],
        ],
        labels: [1, 0],
      },
    ],
    640,
    480,
  );
  t.is(points.masksPerPrompt, 3);
  t.is(points.maskSize, 256);
  t.is(points.logits.length, 2 * 3 * 256 * 256);
  t.is(points.iou.length, 6);
  const mixed = await models.sam2.decode(
    emb!,
    [{ box: [10, 10, 200, 200] }, { points: [[30, 40]] }, { box: [0, 0, 50, 50], points: [[20, 20]] }],
    640,
    480,
  );
  t.is(mixed.objectScore.length, 3);
  t.true(mixed.logits.every(Number.isFinite));
});

test('CLIP Xenova: tokenizer gives the reference CLIP ids; towers give 512-d embeddings', async (t) => {
  const ids = Array.from(models.clipText.tokenizer.encode('a small red circle').slice(0, 7), Number);
  t.deepEqual(ids, [49406, 320, 2442, 736, 7117, 49407, 49407]);
  const [a, b] = await models.clipText.embed(['a red circle', 'a blue square']);
  t.is(a!.length, 512);
  t.notDeepEqual(a, b);
  const v = models.clipVision.imageSize;
  const [out] = await models.clipVision.embed([{ data: new Float32Array(3 * v * v), channels: 3, height: v, width: v }]);
  t.is(out!.embeds.length, 512);
  t.is(out!.tokens, 50);
});

test('a bundle without a head says which embedder to use instead', (t) => {
  t.throws(() => requireHead(models), { instanceOf: ConfigError, message: /embedder "crop"/ });
});

test('a file of the wrong format fails at load with the file name and the mismatch', async (t) => {
  const worker = InferenceClient.start();
  try {
    const err = await t.throwsAsync(
      OnnxModel.open(worker, `${FIXTURES}clip-tiny-random/onnx/text_model.onnx`, onnxCommunityEncoderSpec(1024), defaultSessionOptions),
      { instanceOf: ModelFormatError },
    );
    t.regex(err!.message, /text_model\.onnx: not a SAM2 onnx-community vision encoder/);
    t.regex(err!.message, /missing input "pixel_values"/);
    t.regex(err!.message, /unexpected input "input_ids"/);
    const wrongType = await t.throwsAsync(
      OnnxModel.open(worker, `${FIXTURES}sam2-tiny-random/onnx/vision_encoder.onnx`, clipTextSpec, defaultSessionOptions),
      { instanceOf: ModelFormatError },
    );
    t.regex(wrongType!.message, /vision_encoder\.onnx/);
    const missing = await t.throwsAsync(OnnxModel.open(worker, `${FIXTURES}nope.onnx`, clipTextSpec, defaultSessionOptions));
    t.regex(missing!.message, /nope\.onnx: file not found/);
  } finally {
    await worker.close();
  }
});

test('a bundle.json with mistakes lists each one', async (t) => {
  const err = await t.throwsAsync(readBundle(`${FIXTURES}bad-bundle`), { instanceOf: ConfigError });
  t.regex(err!.message, /sam2\.format: must be one of "onnx-community", "samexporter"/);
  t.regex(err!.message, /unknown key "heads"/);
});
