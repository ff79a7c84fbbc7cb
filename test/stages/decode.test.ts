import test from 'ava';
import sharp from 'sharp';
import { materialise } from '../../src/tensor/image.js';
import { from, lastValueFrom, toArray } from 'rxjs';
import { decodeStage, sniff, type DecodeOptions } from '../../src/stages/decode.js';
import { ConfigError } from '../../src/errors.js';
import type { FrameRecord } from '../../src/record.js';
import { GIF, SVG, corruptJpeg, jpegImage, pngBomb, pngImage } from '../helpers/images.js';
import { record } from '../helpers/records.js';

const options: DecodeOptions = {
  maxPixels: 40_000_000,
  maxBytes: 10_000_000,
  formats: ['jpeg', 'png', 'webp'],
  sam2: { size: 32, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  clip: { size: 16, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  concurrency: 2,
};

async function decodeAll(records: FrameRecord[], o = options): Promise<FrameRecord[]> {
  return lastValueFrom(from(records).pipe(decodeStage(o), toArray()));
}

test('good frames decode to RGB and to the model inputs of the sizes asked', async (t) => {
  const [png, jpg] = await decodeAll([record('png', await pngImage(), { contentType: 'image/png' }), record('jpg', await jpegImage())]);
  t.is(png!.error, undefined);
  t.deepEqual([png!.image!.rgb.width, png!.image!.rgb.height], [64, 48]);
  t.deepEqual([png!.image!.sam2Input.channels, png!.image!.sam2Input.height, png!.image!.sam2Input.width], [3, 32, 32]);
  t.deepEqual([jpg!.image!.clipInput.height, jpg!.image!.clipInput.width], [16, 16]);
  // Red on the left: channel 0 high, channel 2 low after normalisation.
  const clip = materialise(png!.image!.clipFrame); // [3,48,64]
  t.true(clip.data[0]! > 0.5 && clip.data[2 * 64 * 48]! < -0.5);
});

test('EXIF orientation is applied (a rotated JPEG comes out upright)', async (t) => {
  const [r] = await decodeAll([record('rot', await jpegImage(64, 48, 6))]);
  t.deepEqual([r!.image!.rgb.width, r!.image!.rgb.height], [48, 64]);
});

test('bad inputs each fail with a reason, and every other frame still decodes', async (t) => {
  const good = await pngImage();
  const frames = [
    record('zero-bytes', new Uint8Array(0)),
    record('good-1', good),
    record('corrupt-jpeg', await corruptJpeg()),
    record('huge-png', pngBomb(20000, 20000)),
    record('svg', SVG, { contentType: 'image/svg+xml' }),
    record('gif', GIF),
    record('wrong-content-type', good, { contentType: 'image/jpeg' }),
    record('text', new TextEncoder().encode('hello'), { contentType: 'text/plain' }),
    record('good-2', good),
  ];
  const out = await decodeAll(frames);
  const codes = Object.fromEntries(out.map((r) => [r.frameId, r.error?.code ?? 'ok']));
  t.deepEqual(codes, {
    'zero-bytes': 'empty-input',
    'good-1': 'ok',
    'corrupt-jpeg': 'corrupt-image',
    'huge-png': 'image-too-large',
    svg: 'unsupported-format',
    gif: 'unsupported-format',
    'wrong-content-type': 'unsupported-format',
    text: 'unsupported-format',
    'good-2': 'ok',
  });
  const byId = Object.fromEntries(out.map((r) => [r.frameId, r]));
  t.regex(byId['huge-png']!.error!.message, /pixel limit/);
  t.regex(byId['svg']!.error!.message, /SVG/);
  t.regex(byId['wrong-content-type']!.error!.message, /content type "image\/jpeg" does not match the PNG bytes/);
  t.true(out.every((r) => r.error === undefined || r.error.stage === 'decode'));
  t.is(byId['corrupt-jpeg']!.image, undefined);
});

test('frames over the byte limit are rejected before decoding', async (t) => {
  const [r] = await decodeAll([record('big', await pngImage())], { ...options, maxBytes: 10 });
  t.is(r!.error?.code, 'image-too-large');
});

test('sniff tells formats by their bytes', async (t) => {
  t.is(sniff(await pngImage()), 'png');
  t.is(sniff(await jpegImage()), 'jpeg');
  t.is(sniff(SVG), 'svg');
  t.is(sniff(GIF), 'gif');
  t.is(sniff(new Uint8Array([1, 2, 3])), 'unknown');
});

test('options are validated when the stage is built', (t) => {
  t.throws(() => decodeStage({ ...options, formats: [] }), { instanceOf: ConfigError });
  t.throws(() => decodeStage({ ...options, formats: ['bmp' as never] }), { instanceOf: ConfigError, message: /unknown format "bmp"/ });
});

test("a decoded frame keeps its RGB bytes and the models' small inputs, no float copy of the frame (a 40 MP frame would hold 480 MB per copy)", async (t) => {
  const [w, h] = [1600, 1200];
  const big = await sharp({ create: { width: w, height: h, channels: 3, background: { r: 200, g: 30, b: 90 } } })
    .png()
    .toBuffer();
  const [r] = await decodeAll([record('big', new Uint8Array(big), { contentType: 'image/png' })]);
  const image = r!.image!;
  // Every typed array the record keeps for its image, wherever it hangs.
  const held = (value: unknown, seen = new Set<unknown>()): number => {
    if (value === null || typeof value !== 'object' || seen.has(value)) return 0;
    seen.add(value);
    if (ArrayBuffer.isView(value)) return value.byteLength;
    return Object.values(value).reduce<number>((n, v) => n + held(v, seen), 0);
  };
  const inputs = (3 * 32 * 32 + 3 * 16 * 16) * 4; // sam2Input [3,32,32] + clipInput [3,16,16], float32
  t.is(held(image), w * h * 3 + inputs);
  // And the frame still reads as its CLIP-normalised values: (200/255 - 0.5) / 0.5 in channel 0.
  const row = image.clipFrame.row(0, h - 1, new Float32Array(w));
  t.is(row[w - 1], Math.fround((Math.fround(200 / 255) - 0.5) / 0.5));
});
