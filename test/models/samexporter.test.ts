import test from 'ava';
import { readBundle } from '../../src/models/bundle.js';
import { openModelSet } from '../../src/models/model-set.js';
import { FIXTURES } from '../helpers/paths.js';

test('SAM2 samexporter adapter: batch-1 encoder, float labels, boxes as corner points, no object score', async (t) => {
  const models = await openModelSet(await readBundle(`${FIXTURES}samexporter-bundle`));
  try {
    t.is(models.sam2.format, 'samexporter');
    t.is(models.sam2.maxEncoderBatch, 1);
    const s = models.sam2.inputSize;
    const frame = { data: new Float32Array(3 * s * s), channels: 3, height: s, width: s };
    const embs = await models.sam2.encode([frame, frame]);
    t.is(embs.length, 2);
    const d = await models.sam2.decode(
      embs[0]!,
      [
        { points: [[10, 20]] },
        { box: [5, 5, 100, 90] },
        {
          points: [
            [1, 1],
            [2, 2],
          ],
          labels: [1, 0],
        },
      ],
      320,
      240,
    );
    t.is(d.masksPerPrompt, 3);
    t.is(d.logits.length, 3 * 3 * d.maskSize * d.maskSize);
    t.deepEqual(Array.from(d.objectScore), [Infinity, Infinity, Infinity]);
  } finally {
    await models.dispose();
  }
});
