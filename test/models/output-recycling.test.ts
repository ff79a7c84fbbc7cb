import test from 'ava';
import { readBundle } from '../../src/models/bundle.js';
import { recyclable } from '../../src/models/inference-client.js';
import { giveSpare, toSend } from '../../src/models/inference-worker.js';
import { openModelSet } from '../../src/models/model-set.js';
import type { Sam2Prompt } from '../../src/models/sam2.js';
import { DEFAULT_BUNDLE } from '../helpers/paths.js';

test('the worker sends an output in a buffer given back, filled with the new values', (t) => {
  const given = new ArrayBuffer(1024);
  giveSpare([given]);
  const values = Float32Array.from({ length: 256 }, (_, i) => i * 0.5);
  const sent = toSend({ type: 'float32', dims: [256], data: values }, false);
  t.is(sent.data.buffer, given, 'the spare buffer itself');
  t.deepEqual(Array.from(sent.data as Float32Array), Array.from(values));
  const other = toSend({ type: 'float32', dims: [256], data: values.slice() }, false);
  t.not(other.data.buffer, given, 'a spare is used once');
});

test('only whole, large, unshared buffers are given back, each once', (t) => {
  const big = new Float32Array(64 * 1024);
  t.deepEqual(recyclable([big, big, big.subarray(0, 10)]), [big.buffer]);
  t.deepEqual(recyclable([new Float32Array(10)]), [], 'small: not worth a message');
  t.deepEqual(recyclable([new Float32Array(new SharedArrayBuffer(1 << 20))]), [], 'shared: cannot be transferred');
});

test('decoder results after recycling are those of fresh buffers, and the recycled ones are gone from this thread', async (t) => {
  const models = await openModelSet(await readBundle(DEFAULT_BUNDLE));
  t.teardown(() => models.dispose());
  const s = models.sam2.inputSize;
  const data = Float32Array.from({ length: 3 * s * s }, (_, i) => Math.sin(i * 0.01));
  const [emb] = await models.sam2.encode([{ data, channels: 3, height: s, width: s }]);
  t.teardown(() => models.sam2.release(emb!));
  const prompts = (shift: number) =>
    Array.from({ length: 64 }, (_, i): Sam2Prompt => ({ points: [[(i * 4 + shift) % s, (i * 7 + shift) % s]], labels: [1] }));
  const first = await models.sam2.decode(emb!, prompts(0), s, s);
  const wantFirst = first.logits.slice();
  const wantSecond = (await models.sam2.decode(emb!, prompts(9), s, s)).logits.slice();
  models.sam2.recycle(first);
  t.is(first.logits.byteLength, 0, 'transferred to the worker');
  // The next results of that size come in recycled buffers: same values as fresh ones.
  const again = await models.sam2.decode(emb!, prompts(9), s, s);
  t.deepEqual(again.logits, wantSecond);
  models.sam2.recycle(again);
  const back = await models.sam2.decode(emb!, prompts(0), s, s);
  t.deepEqual(back.logits, wantFirst);
});
