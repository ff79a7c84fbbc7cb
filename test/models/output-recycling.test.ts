import test from 'ava';
import { readBundle } from '../../src/models/bundle.js';
import { recyclable } from '../../src/models/inference-client.js';
import { SpareBuffers, filled } from '../../src/models/spare-buffers.js';
import { openModelSet } from '../../src/models/model-set.js';
import type { Sam2Prompt } from '../../src/models/sam2.js';
import { DEFAULT_BUNDLE } from '../helpers/paths.js';

test('a buffer given back is taken once, for its size, and filled with the new values', (t) => {
  const spare = new SpareBuffers(1 << 20);
  const given = new ArrayBuffer(1024);
  spare.give([given]);
  t.is(spare.take(2048), undefined, 'another size');
  const reuse = spare.take(1024);
  t.is(reuse, given, 'the buffer itself');
  t.is(spare.take(1024), undefined, 'taken once');
  const values = Float32Array.from({ length: 256 }, (_, i) => i * 0.5);
  const sent = filled(values, reuse!);
  t.is(sent.buffer, given);
  t.deepEqual(Array.from(sent), Array.from(values));
});

test('the spares stay under their limit, the oldest going first', (t) => {
  const spare = new SpareBuffers(3000);
  const [a, b, c] = [new ArrayBuffer(1000), new ArrayBuffer(1500), new ArrayBuffer(1000)];
  spare.give([a, b]);
  spare.give([c]); // 3500 > 3000: `a`, the oldest, goes
  t.is(spare.bytes, 2500);
  t.is(spare.take(1000), c);
  t.is(spare.take(1500), b);
  spare.give([new ArrayBuffer(4000), new ArrayBuffer(0)]); // larger than the limit, detached: not held
  t.is(spare.bytes, 0);
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
