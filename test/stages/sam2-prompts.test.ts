import test from 'ava';
import { checkPrompts, pointGrid, sam2Stage, samAutomaticDefaults } from '../../src/stages/sam2.js';
import { ConfigError } from '../../src/errors.js';
import type { Sam2Model } from '../../src/models/sam2.js';

test('prompts outside the frame, NaN coordinates and bad boxes are named precisely', (t) => {
  t.is(checkPrompts([{ points: [[10, 10]] }, { box: [0, 0, 5, 5] }], 100, 80), undefined);
  t.regex(checkPrompts([{ points: [[100, 10]] }], 100, 80)!, /prompt 0: point \(100, 10\) is outside the 100x80 frame/);
  t.regex(checkPrompts([{ points: [[Number.NaN, 1]] }], 100, 80)!, /not a finite number/);
  t.regex(checkPrompts([{ box: [10, 10, 5, 20] }], 100, 80)!, /x2 > x1/);
  t.regex(checkPrompts([{ box: [200, 200, 300, 300] }], 100, 80)!, /outside/);
  t.regex(checkPrompts([{}], 100, 80)!, /neither points nor a box/);
  t.regex(checkPrompts([{ points: [[1, 1]], labels: [1, 0] }], 100, 80)!, /1 points but 2 labels/);
});

test('the automatic grid puts n x n points at cell centres', (t) => {
  const g = pointGrid(2, 100, 50);
  t.deepEqual(
    g.map((p) => p.points![0]),
    [
      [25, 12.5],
      [75, 12.5],
      [25, 37.5],
      [75, 37.5],
    ],
  );
});

test('sam2 options are validated when the stage is built', (t) => {
  const model = { maxEncoderBatch: 1 } as Sam2Model;
  t.throws(
    () =>
      sam2Stage({ model, mode: 'automatic', automatic: { ...samAutomaticDefaults, boxNmsThresh: 0 }, batch: { maxSize: 1, maxWaitMs: 0 } }),
    { instanceOf: ConfigError },
  );
  t.throws(
    () =>
      sam2Stage({
        model,
        mode: 'automatic',
        automatic: { ...samAutomaticDefaults, pointsPerSide: 0 },
        batch: { maxSize: 1, maxWaitMs: 0 },
      }),
    { instanceOf: ConfigError },
  );
});
