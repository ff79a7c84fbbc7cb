import test from 'ava';
import { from, lastValueFrom, toArray } from 'rxjs';
import { scoreLabels, similarityStage } from '../../src/stages/similarity.js';
import { LabelSet } from '../../src/models/label-set.js';
import type { ClipText } from '../../src/models/clip.js';
import { record } from '../helpers/records.js';
import { ConfigError } from '../../src/errors.js';
import { labelsOf } from '../../src/record.js';

// A text tower stand-in with fixed 2-d embeddings: the label set's own logic is under test.
const axes: Record<string, number[]> = { cat: [1, 0], dog: [0, 1], 'a photo of cat': [1, 0], 'a photo of dog': [0, 1] };
const text = {
  embed: async (texts: readonly string[]) => texts.map((t) => Float32Array.from(axes[t] ?? [0.7, 0.7])),
} as unknown as ClipText;

function mask(on: number[]) {
  const data = new Uint8Array(16);
  for (const i of on) data[i] = 1;
  return { width: 4, height: 4, data };
}

test('labels are encoded once, scored by softmax or cosine, and detections deduplicated by mask NMS', async (t) => {
  const labels = await LabelSet.create(text, ['cat', 'dog']);
  const r = record('1');
  r.objects = [
    {
      state: 'embedded',
      index: 0,
      prompt: {},
      mask: mask([0, 1, 4, 5]),
      box: [0, 0, 2, 2],
      score: 0.9,
      embedding: Float32Array.from([1, 0]),
    },
    {
      state: 'embedded',
      index: 1,
      prompt: {},
      mask: mask([0, 1, 4]),
      box: [0, 0, 2, 2],
      score: 0.8,
      embedding: Float32Array.from([0.9, 0.1]),
    },
    {
      state: 'embedded',
      index: 2,
      prompt: {},
      mask: mask([10, 11, 14, 15]),
      box: [2, 2, 4, 4],
      score: 0.9,
      embedding: Float32Array.from([0, 1]),
    },
  ];
  const [out] = await lastValueFrom(
    from([r]).pipe(
      similarityStage({ labels, score: 'softmax', logitScale: 10, scoreThreshold: 0.5, topK: 2, maskNmsThresh: 0.5 }),
      toArray(),
    ),
  );
  t.deepEqual(
    labelsOf(out!.objects![0]!)!.map((l) => l.label),
    ['cat', 'dog'],
  );
  t.deepEqual(
    out!.detections!.map((d) => [d.objectIndex, d.label]),
    [
      [0, 'cat'],
      [2, 'dog'],
    ],
  );
  t.deepEqual(scoreLabels(Float32Array.from([1, 0]), labels, 'cosine', 10), [1, 0]);
});

test('the label set can be replaced while running; templates and empty sets are checked', async (t) => {
  const labels = await LabelSet.create(text, ['cat'], 'a photo of {}');
  const changed = labels.changed();
  await labels.replace(['dog', ' dog ', '']);
  await changed;
  t.deepEqual([...labels.labels], ['dog']);
  t.is(labels.version, 2);
  await t.throwsAsync(labels.replace([]), { instanceOf: ConfigError });
  await t.throwsAsync(LabelSet.create(text, ['x'], 'no placeholder'), { instanceOf: ConfigError, message: /must contain \{\}/ });
});
