import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { maskBox, type Mask } from '../../src/masks/mask.js';
import { readBundle } from '../../src/models/bundle.js';
import { cropBaselineOf, headCropOf } from '../../src/models/model-set.js';
import { DEFAULT_CROP, cropWindow, maskedCrop, type CropSpec } from '../../src/masks/crop.js';
import { normalise, normalised, planesOf, type Chw, type Planes } from '../../src/tensor/image.js';
import { resize } from '../../src/tensor/resize.js';

/** A W x H mask with the box [x1, x2) x [y1, y2) set. */
function boxMask(W: number, H: number, [x1, y1, x2, y2]: [number, number, number, number]): Mask {
  const data = new Uint8Array(W * H);
  for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) data[y * W + x] = 1;
  return { width: W, height: H, data };
}

/** Frame [C,H,W] with value 1 + y*W + x in channel 0 and its negative in channel 1: never 0 (stored, and as planes). */
function frame(W: number, H: number): Chw & Planes {
  const data = new Float32Array(2 * H * W);
  for (let i = 0; i < H * W; i++) {
    data[i] = 1 + i;
    data[H * W + i] = -(1 + i);
  }
  const chw = { data, channels: 2, height: H, width: W };
  return { ...chw, ...planesOf(chw) };
}

const objectMasked: CropSpec = { window: 'object', margin: 1.25, pad: 4, context: 'masked' };

test('object window: side = ceil(longer box side * margin) + pad, centred with floor (the head crop arithmetic)', (t) => {
  // Box x [2, 5) (w 3), y [1, 3) (h 2) in a 10 x 8 frame: side = ceil(3 * 1.25) + 4 = ceil(3.75) + 4 = 8;
  // x0 = floor((2 + 5 - 8) / 2) = floor(-0.5) = -1; y0 = floor((1 + 3 - 8) / 2) = -2.
  const m = boxMask(10, 8, [2, 1, 5, 3]);
  t.deepEqual(cropWindow(m, objectMasked), [-1, -2, 8]);
  // margin 2, pad 0: side = 6; x0 = floor(1/2) = 0; y0 = floor(-2/2) = -1.
  t.deepEqual(cropWindow(m, { window: 'object', margin: 2, pad: 0, context: 'masked' }), [0, -1, 6]);
  // The head's spec from a manifest's head section is this object window, masked.
  const head = { crop_margin: 1.25, crop_pad: 4 } as Parameters<typeof headCropOf>[0];
  t.deepEqual(headCropOf(head), objectMasked);
  t.deepEqual(DEFAULT_CROP, objectMasked);
  // An empty mask frames the whole frame: [0, 0, max(W, H)], whatever the window.
  const empty = { width: 10, height: 8, data: new Uint8Array(80) };
  t.deepEqual(cropWindow(empty, objectMasked), [0, 0, 10]);
  t.deepEqual(cropWindow(empty, { window: 'fixed', sideFraction: 0.5, context: 'kept' }), [0, 0, 10]);
});

test('object window, masked: the window holds the mask pixels at (x - x0, y - y0), the rest 0', (t) => {
  // Box x [2, 5), y [1, 3) -> window [-1, -2, 8]; size 8 so that resize leaves it as is.
  const f = frame(10, 8);
  const out = maskedCrop(f, boxMask(10, 8, [2, 1, 5, 3]), 8, objectMasked);
  const want = new Float32Array(2 * 64);
  for (let y = 1; y < 3; y++) {
    for (let x = 2; x < 5; x++) {
      want[(y + 2) * 8 + (x + 1)] = 1 + y * 10 + x;
      want[64 + (y + 2) * 8 + (x + 1)] = -(1 + y * 10 + x);
    }
  }
  t.deepEqual(Array.from(out.data), Array.from(want));
});

test("a fixed window keeps absolute size: masks of different sizes get windows of one side, the object window doesn't", (t) => {
  // 40 x 30 frame, side_fraction 0.375: side = floor(0.375 * 40 + 0.5) = floor(15.5) = 15.
  const fixed: CropSpec = { window: 'fixed', sideFraction: 0.375, context: 'masked' };
  const small = boxMask(40, 30, [10, 10, 12, 12]); // 2 x 2
  const large = boxMask(40, 30, [20, 5, 30, 11]); // 10 x 6
  // small: x0 = y0 = floor((10 + 12 - 15) / 2) = 3. large: x0 = floor((50 - 15) / 2) = 17, y0 = floor(1 / 2) = 0.
  t.deepEqual(cropWindow(small, fixed), [3, 3, 15]);
  t.deepEqual(cropWindow(large, fixed), [17, 0, 15]);
  // The object window follows the object: ceil(2 * 1.25) + 4 = 7 and ceil(10 * 1.25) + 4 = 17.
  t.is(cropWindow(small, objectMasked)[2], 7);
  t.is(cropWindow(large, objectMasked)[2], 17);
  // The frame's longer side counts (here the height), and .5 rounds up: 0.3125 * 40 = 12.5 -> 13.
  const tall = boxMask(30, 40, [10, 10, 12, 12]);
  t.is(cropWindow(tall, { window: 'fixed', sideFraction: 0.3125, context: 'kept' })[2], 13);
  t.is(cropWindow(tall, { window: 'fixed', sideFraction: 1, context: 'kept' })[2], 40);
  // So the small object covers 2/15 of its resized crop, the large one 10/15.
  const crop = (m: Mask) => maskedCrop(frame(40, 30), m, 15, fixed);
  const covered = (c: Chw) => c.data.subarray(0, 15 * 15).filter((x) => x !== 0).length;
  t.is(covered(crop(small)), 4);
  t.is(covered(crop(large)), 60);
});

test('context "kept" keeps the frame inside the window, "masked" zeroes outside the mask; outside the frame is 0', (t) => {
  // 6 x 6 frame, mask = the pixel (0, 0); fixed side floor(0.5 * 6 + 0.5) = 3;
  // x0 = y0 = floor((0 + 1 - 3) / 2) = -1: the window's first row and column lie outside the frame.
  const f = frame(6, 6);
  const m = boxMask(6, 6, [0, 0, 1, 1]);
  const kept = maskedCrop(f, m, 3, { window: 'fixed', sideFraction: 0.5, context: 'kept' });
  const masked = maskedCrop(f, m, 3, { window: 'fixed', sideFraction: 0.5, context: 'masked' });
  // Frame values 1 + y*6 + x: (0,0) = 1, (1,0) = 2, (0,1) = 7, (1,1) = 8.
  t.deepEqual(Array.from(kept.data), [0, 0, 0, 0, 1, 2, 0, 7, 8, 0, 0, 0, 0, -1, -2, 0, -7, -8]);
  t.deepEqual(Array.from(masked.data), [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0]);
  // The same with an object window: side ceil(1 * 1.25) + 4 = 6, x0 = y0 = floor(-5 / 2) = -3.
  const keptObject = maskedCrop(f, m, 6, { window: 'object', margin: 1.25, pad: 4, context: 'kept' });
  t.deepEqual(Array.from(keptObject.data.subarray(3 * 6, 4 * 6)), [0, 0, 0, 1, 2, 3]); // window row 3 = frame row 0
  const maskedObject = maskedCrop(f, m, 6, objectMasked);
  t.deepEqual(Array.from(maskedObject.data.subarray(3 * 6, 4 * 6)), [0, 0, 0, 1, 0, 0]);
});

/** maskedCrop as it was before CropSpec had a window and a context (margin and pad only). */
function previousMaskedCrop(frame: Chw, mask: Mask, size: number, margin: number, pad: number): Chw {
  let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if (mask.data[y * mask.width + x]) [x1, x2, y1, y2] = [Math.min(x1, x), Math.max(x2, x + 1), Math.min(y1, y), Math.max(y2, y + 1)];
    }
  }
  const side = x2 < 0 ? Math.max(mask.width, mask.height) : Math.ceil(Math.max(x2 - x1, y2 - y1) * margin) + pad;
  const [x0, y0] = x2 < 0 ? [0, 0] : [Math.floor((x1 + x2 - side) / 2), Math.floor((y1 + y2 - side) / 2)];
  const { channels: c, height: H, width: W } = frame;
  const win = new Float32Array(c * side * side);
  for (let ch = 0; ch < c; ch++) {
    for (let y = Math.max(y0, 0); y < Math.min(y0 + side, H); y++) {
      for (let x = Math.max(x0, 0); x < Math.min(x0 + side, W); x++) {
        if (mask.data[y * W + x]) win[ch * side * side + (y - y0) * side + (x - x0)] = frame.data[ch * H * W + y * W + x]!;
      }
    }
  }
  return resize({ data: win, channels: c, height: side, width: side }, size, size);
}

test("the head's crop (object window, masked) is bit-identical to the previous maskedCrop", (t) => {
  let seed = 7;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647; // Park-Miller, exact in doubles
  const W = 37;
  const H = 23;
  const stored: Chw = { data: Float32Array.from({ length: 3 * W * H }, () => rand() * 4 - 2), channels: 3, height: H, width: W };
  const f = { ...stored, ...planesOf(stored) };
  for (let k = 0; k < 40; k++) {
    const x1 = Math.floor(rand() * W);
    const y1 = Math.floor(rand() * H);
    const box: [number, number, number, number] = [x1, y1, x1 + 1 + Math.floor(rand() * (W - x1)), y1 + 1 + Math.floor(rand() * (H - y1))];
    const m = boxMask(W, H, box);
    for (let i = 0; i < m.data.length; i++) if (rand() < 0.3) m.data[i] = 0; // ragged masks
    for (const [margin, pad, size] of [
      [1.25, 4, 16],
      [1.25, 4, 64],
      [1.7, 0, 24],
    ] as const) {
      const got = maskedCrop(f, m, size, { window: 'object', margin, pad, context: 'masked' });
      t.deepEqual(got.data, previousMaskedCrop(f, m, size, margin, pad).data, `box ${box.join(',')} margin ${margin} pad ${pad}`);
    }
  }
});

/** maskedCrop with its window stored, as before it read the window from the frame on demand. */
function storedWindowCrop(frame: Chw & Planes, mask: Mask, size: number, spec: CropSpec): Chw {
  const { channels: c, height: H, width: W } = frame;
  const [x0, y0, side] = cropWindow(mask, spec);
  const win = new Float32Array(c * side * side);
  for (let ch = 0; ch < c; ch++)
    for (let y = Math.max(y0, 0); y < Math.min(y0 + side, H); y++)
      for (let x = Math.max(x0, 0); x < Math.min(x0 + side, W); x++)
        if (spec.context === 'kept' || mask.data[y * W + x])
          win[ch * side * side + (y - y0) * side + (x - x0)] = frame.data[(ch * H + y) * W + x]!;
  return resize({ data: win, channels: c, height: side, width: side }, size, size);
}

test('every framing reads its window from the frame with the numbers of a stored window', (t) => {
  let seed = 11;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const W = 41;
  const H = 29;
  const stored: Chw = { data: Float32Array.from({ length: 3 * W * H }, () => rand() * 4 - 2), channels: 3, height: H, width: W };
  const f = { ...stored, ...planesOf(stored) };
  const specs: CropSpec[] = [
    { window: 'object', margin: 1.25, pad: 4, context: 'kept' },
    { window: 'object', margin: 2.5, pad: 0, context: 'masked' },
    { window: 'fixed', sideFraction: 0.4, context: 'kept' },
    { window: 'fixed', sideFraction: 1, context: 'masked' },
  ];
  for (let k = 0; k < 30; k++) {
    const x1 = Math.floor(rand() * W);
    const y1 = Math.floor(rand() * H);
    const m = boxMask(W, H, [x1, y1, x1 + 1 + Math.floor(rand() * (W - x1)), y1 + 1 + Math.floor(rand() * (H - y1))]);
    for (let i = 0; i < m.data.length; i++) if (rand() < 0.3) m.data[i] = 0;
    for (const spec of specs) {
      // Shrinking, enlarging, and the window's own size (no resize); with the mask's box given too, as the stages do.
      const side = cropWindow(m, spec)[2];
      for (const size of [8, 40, 64, side]) {
        const want = storedWindowCrop(f, m, size, spec).data;
        t.deepEqual(maskedCrop(f, m, size, spec).data, want, `${JSON.stringify(spec)} size ${size}`);
        t.deepEqual(maskedCrop(f, m, size, spec, maskBox(m)).data, want, `${JSON.stringify(spec)} size ${size}, box given`);
      }
    }
  }
});

test('a mask of another size than the frame is an error', (t) => {
  const err = t.throws(() => maskedCrop(frame(6, 6), boxMask(5, 6, [0, 0, 1, 1]), 3, objectMasked));
  t.regex(err!.message, /mask is 5x6 but the frame is 6x6/);
});

// ---- bundle.json's crop_baseline ----

const manifest = (extra: Record<string, unknown>) => ({
  name: 'crop',
  version: '1',
  format: 1,
  sam2: { format: 'onnx-community', encoder: 'e.onnx', decoder: 'd.onnx' },
  clip: { format: 'xenova', vision: 'v.onnx', text: 't.onnx', tokenizer: 'tokenizer.json' },
  labels: ['x'],
  ...extra,
});

async function bundleWith(extra: Record<string, unknown>) {
  const dir = await mkdtemp(join(tmpdir(), 'ogclip-crop-'));
  await writeFile(join(dir, 'bundle.json'), JSON.stringify(manifest(extra)));
  return readBundle(dir);
}

const head = {
  object_branch: 'o.onnx',
  mask_branch: 'm.onnx',
  fusion: 'f.onnx',
  projection: 'p.onnx',
  object_size: 64,
  mask_size: 64,
  crop_margin: 1.5,
  crop_pad: 2,
};

test('crop_baseline from bundle.json: fixed or object window; absent, the head crop, else the default', async (t) => {
  const fixed = await bundleWith({ crop_baseline: { window: 'fixed', side_fraction: 0.375, context: 'kept' } });
  t.deepEqual(cropBaselineOf(fixed.manifest), { window: 'fixed', sideFraction: 0.375, context: 'kept' });
  const object = await bundleWith({ crop_baseline: { window: 'object', margin: 2, pad: 8, context: 'kept' }, head });
  t.deepEqual(cropBaselineOf(object.manifest), { window: 'object', margin: 2, pad: 8, context: 'kept' });
  // margin and pad default as the head's crop_margin and crop_pad do.
  const defaults = await bundleWith({ crop_baseline: { window: 'object', context: 'masked' } });
  t.deepEqual(cropBaselineOf(defaults.manifest), objectMasked);
  const headOnly = await bundleWith({ head });
  t.deepEqual(cropBaselineOf(headOnly.manifest), { window: 'object', margin: 1.5, pad: 2, context: 'masked' });
  t.deepEqual(cropBaselineOf((await bundleWith({})).manifest), DEFAULT_CROP);
});

test('a bad crop_baseline fails validation, each mistake named by its path', async (t) => {
  const bad = async (crop_baseline: unknown) => (await t.throwsAsync(bundleWith({ crop_baseline }), { instanceOf: ConfigError }))!.message;
  t.regex(
    await bad({ window: 'fixd', side_fraction: 0.375, context: 'kept' }),
    /crop_baseline\.window: "fixd" is not one of "object", "fixed"/,
  );
  t.regex(await bad({ window: 'fixed', side_fraction: 0, context: 'kept' }), /crop_baseline\.side_fraction: must be > 0/);
  t.regex(await bad({ window: 'fixed', side_fraction: 1.5, context: 'kept' }), /crop_baseline\.side_fraction: must be <= 1/);
  t.regex(await bad({ window: 'fixed', context: 'kept' }), /crop_baseline: missing required key "side_fraction"/);
  t.regex(await bad({ window: 'object', margin: 0.5, pad: 4, context: 'masked' }), /crop_baseline\.margin: must be >= 1/);
  t.regex(await bad({ window: 'object', margin: 1.25, pad: 1.5, context: 'masked' }), /crop_baseline\.pad: must be integer/);
  t.regex(await bad({ window: 'object', margin: 1.25, pad: -1, context: 'masked' }), /crop_baseline\.pad: must be >= 0/);
  t.regex(await bad({ window: 'object', context: 'blurred' }), /crop_baseline\.context: must be one of "masked", "kept"/);
  t.regex(await bad({ window: 'object', context: 'masked', side_fraction: 0.5 }), /crop_baseline: unknown key "side_fraction"/);
  t.regex(await bad({ margin: 1.25, context: 'masked' }), /crop_baseline: missing required key "window"/);
});

test('a crop read from the RGB bytes through the normalisation tables equals the crop of the stored normalised frame, bit for bit', (t) => {
  let seed = 11;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const [W, H] = [41, 29];
  const rgb = { data: Uint8Array.from({ length: W * H * 3 }, () => Math.floor(rand() * 256)), width: W, height: H };
  const mean = [0.48145466, 0.4578275, 0.40821073];
  const std = [0.26862954, 0.26130258, 0.27577711];
  const stored = planesOf(normalise(rgb, mean, std));
  const onRead = normalised(rgb, mean, std);
  for (let k = 0; k < 20; k++) {
    const x1 = Math.floor(rand() * W);
    const y1 = Math.floor(rand() * H);
    const m = boxMask(W, H, [x1, y1, x1 + 1 + Math.floor(rand() * (W - x1)), y1 + 1 + Math.floor(rand() * (H - y1))]);
    for (const spec of [objectMasked, { window: 'fixed', sideFraction: 0.6, context: 'kept' } as const]) {
      for (const size of [8, 64]) t.deepEqual(maskedCrop(onRead, m, size, spec).data, maskedCrop(stored, m, size, spec).data);
    }
  }
});
