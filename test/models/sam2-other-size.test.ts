import test from 'ava';
import { readBundle } from '../../src/models/bundle.js';
import { openModelSet, type ModelSet } from '../../src/models/model-set.js';
import type { MaskLogits } from '../../src/masks/mask-logits.js';
import { ModelFormatError } from '../../src/errors.js';
import { floatOutput } from '../../src/models/tensor.js';
import { FIXTURES } from '../helpers/paths.js';
import { everyNth, patternImage, readParity, relativeError, TOLERANCE, variantBundle, type Sam2Parity } from './variant-fixtures.js';

let models: ModelSet;
let p: Sam2Parity;

test.before(async () => {
  p = await readParity<Sam2Parity>('sam2-512-tiny-random');
  models = await openModelSet(await readBundle(`${FIXTURES}variants-bundle`));
});

test.after.always(async () => {
  await models?.dispose();
});

function checkDecoded(t: import('ava').ExecutionContext, d: MaskLogits, ref: Sam2Parity['by_points'], label: string, tol: number): void {
  const [, prompts, k, m] = ref.pred_masks_dims as [number, number, number, number, number];
  t.deepEqual([d.iou.length / d.masksPerPrompt, d.masksPerPrompt, d.maskSize], [prompts, k, m], label);
  t.true(relativeError(d.iou, ref.iou_scores) < tol, `${label} iou ${relativeError(d.iou, ref.iou_scores)}`);
  t.true(
    relativeError(d.objectScore, ref.object_score_logits) < tol,
    `${label} object score ${relativeError(d.objectScore, ref.object_score_logits)}`,
  );
  const masks = everyNth(d.logits, m, m, 8);
  t.true(relativeError(masks, ref.pred_masks_every_8th) < tol, `${label} masks ${relativeError(masks, ref.pred_masks_every_8th)}`);
}

test('SAM2 onnx-community at 512: sizes come from the files (embeddings S/4, S/8, S/16, masks S/4) and match PyTorch', async (t) => {
  const s = models.sam2.inputSize;
  t.is(s, p.input_size);
  const [emb] = await models.sam2.encode([patternImage(s)]);
  const values = await emb!.handle.read(); // the embeddings stay in the worker; a copy to compare
  for (const [name, ref] of Object.entries(p.embeddings)) {
    const got = floatOutput(values, name);
    t.deepEqual(got.dims, ref.dims, name);
    const [, , h, w] = got.dims as [number, number, number, number];
    const sample = everyNth(got.data, h, w, ref.step);
    t.true(relativeError(sample, ref.values) < TOLERANCE.fp32, `${name} ${relativeError(sample, ref.values)}`);
  }
  const [fw, fh] = p.frame;
  // A box alone is embedded as SAM2 embeds it (an empty point input): PyTorch's own box-only call
  // (the decoder sees onnxruntime's embeddings, PyTorch its own, hence 10x the fp32 bound). With a
  // padding point instead, this fails (2.7 % off on the tiny model at 1024).
  checkDecoded(t, await models.sam2.decode(emb!, [p.box_prompt], fw, fh), p.by_box, 'box', TOLERANCE.fp32 * 10);
  // Points alone go through the same graph with an empty [1,0,4] box input, which PyTorch refuses;
  // its reference is the no-box call. With SAM2's "not a point" token added by the adapter the
  // masks come within ~4% of it on this random model (~35% without the token); the rest is
  // the export's own difference between an empty box input and none, left as it is.
  checkDecoded(t, await models.sam2.decode(emb!, p.point_prompts, fw, fh), p.by_points, 'points', 0.1);
  // Mixed prompts are split into a boxed and a point call and put back in order.
  const mixed = await models.sam2.decode(emb!, [p.box_prompt, ...p.point_prompts], fw, fh);
  t.true(relativeError(mixed.iou.slice(0, 3), p.by_box.iou_scores) < TOLERANCE.fp32 * 10);
  t.true(relativeError(mixed.iou.slice(3), p.by_points.iou_scores) < 0.1);
});

test('a bundle whose input_size disagrees with the encoder file names the file and both sizes', async (t) => {
  const b = await variantBundle({ sam2: { input_size: 1024 } });
  try {
    const err = await t.throwsAsync(openModelSet(await readBundle(b.dir)), { instanceOf: ModelFormatError });
    t.regex(
      err!.message,
      /vision_encoder\.onnx: not a SAM2 onnx-community vision encoder: input "pixel_values" dim 2 is 512, expected 1024/,
    );
  } finally {
    await b.dispose();
  }
});
