import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { from, lastValueFrom, toArray } from 'rxjs';
import { maskBox } from '../../src/masks/mask.js';
import { readBundle } from '../../src/models/bundle.js';
import { openModelSet } from '../../src/models/model-set.js';
import type { Sam2Prompt } from '../../src/models/sam2.js';
import type { FrameRecord } from '../../src/record.js';
import { decodeStage, defaultDecodeLimits } from '../../src/stages/decode.js';
import { sam2Stage, samAutomaticDefaults } from '../../src/stages/sam2.js';
import { DEFAULT_BUNDLE, SHAPES_VAL } from '../helpers/paths.js';
import { record } from '../helpers/records.js';

// The sam2 stage makes each mask inside its box only, and the stages after it (branches, the crop
// embedder) read the box instead of scanning the frame: the box must be the mask's tight box.
test("every object's box is its mask's tight box, [0, 0, 0, 0] when the mask is empty (both modes)", async (t) => {
  const models = await openModelSet(await readBundle(DEFAULT_BUNDLE));
  t.teardown(() => models.dispose());
  const m = models.bundle.manifest;
  const payload = await readFile(join(SHAPES_VAL, 'images', 'frame-00003.jpg'));
  // Clicks over a grid (objects and background, some masks empty) and boxes.
  const prompts: Sam2Prompt[] = [];
  for (let i = 0; i < 6; i++)
    for (let j = 0; j < 6; j++)
      prompts.push({ points: [[20 + 43 * i, 20 + 43 * j]], labels: [1] }, { box: [5 + 43 * i, 5 + 43 * j, 38 + 43 * i, 38 + 43 * j] });
  const frames = [record('prompted', payload, { prompts }), record('automatic', payload)];
  const out = await lastValueFrom(
    from(frames).pipe(
      decodeStage({
        ...defaultDecodeLimits,
        concurrency: 1,
        sam2: { size: m.sam2.input_size, ...models.sam2Norm },
        clip: { size: m.clip.image_size, ...models.clipNorm },
      }),
      sam2Stage({
        model: models.sam2,
        mode: 'automatic',
        automatic: { ...samAutomaticDefaults, pointsPerSide: 8 },
        batch: { maxSize: 2, maxWaitMs: 0 },
      }),
      toArray(),
    ),
  );
  const byId = new Map(out.map((r: FrameRecord) => [r.frameId, r]));
  let empty = 0;
  for (const id of ['prompted', 'automatic']) {
    const objects = byId.get(id)?.objects ?? [];
    t.true(objects.length > 0, `${id}: objects`);
    for (const o of objects) {
      const tight = maskBox(o.mask);
      if (!tight) empty++;
      t.deepEqual(o.box, tight ?? [0, 0, 0, 0], `${id} object ${o.index}`);
    }
  }
  t.is(byId.get('prompted')!.objects!.length, prompts.length);
  t.log(`${empty} empty masks`);
});
