import sharp from 'sharp';
import type { OperatorFunction } from 'rxjs';
import { ConfigError } from '../errors.js';
import { mapConcurrentOrdered } from '../operators/map-concurrent-ordered.js';
import { fail, type FrameRecord } from '../record.js';
import { normalised, type Chw, type Planes, type Rgb } from '../tensor/image.js';
import { resizePlanes } from '../tensor/resize.js';

export type ImageFormat = 'jpeg' | 'png' | 'webp';

export interface DecodeOptions {
  readonly maxPixels: number; // width x height above which a frame is rejected (decompression bombs)
  readonly maxBytes: number; // encoded size limit
  readonly formats: readonly ImageFormat[];
  readonly sam2: { readonly size: number; readonly mean: readonly number[]; readonly std: readonly number[] };
  readonly clip: { readonly size: number; readonly mean: readonly number[]; readonly std: readonly number[] };
  readonly concurrency: number; // frames decoded at once (sharp works on libuv's thread pool)
}

export const defaultDecodeLimits = { maxPixels: 40_000_000, maxBytes: 50 * 1024 * 1024, formats: ['jpeg', 'png', 'webp'] } as const;

const CONTENT_TYPES: Record<ImageFormat, readonly string[]> = {
  jpeg: ['image/jpeg', 'image/jpg'],
  png: ['image/png'],
  webp: ['image/webp'],
};

/** What the first bytes say the payload is. */
export function sniff(bytes: Uint8Array): ImageFormat | 'svg' | 'gif' | 'tiff' | 'unknown' {
  const b = (i: number) => bytes[i] ?? -1;
  if (b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'jpeg';
  if (b(0) === 0x89 && b(1) === 0x50 && b(2) === 0x4e && b(3) === 0x47) return 'png';
  if (
    b(0) === 0x52 &&
    b(1) === 0x49 &&
    b(2) === 0x46 &&
    b(3) === 0x46 &&
    b(8) === 0x57 &&
    b(9) === 0x45 &&
    b(10) === 0x42 &&
    b(11) === 0x50
  )
    return 'webp';
  if (b(0) === 0x47 && b(1) === 0x49 && b(2) === 0x46) return 'gif';
  if ((b(0) === 0x49 && b(1) === 0x49) || (b(0) === 0x4d && b(1) === 0x4d)) return 'tiff';
  const head = Buffer.from(bytes.subarray(0, 256)).toString('utf8').trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'svg';
  return 'unknown';
}

/**
 * decode: bytes -> RGB pixels (EXIF orientation applied) -> the SAM2 input [3,S,S] and the
 * CLIP inputs, normalised per model. Only JPEG/PNG/WebP; the pixel limit is checked from the
 * header before any pixel is decoded. A bad frame is marked failed; the stream goes on.
 */
export function decodeStage(options: DecodeOptions): OperatorFunction<FrameRecord, FrameRecord> {
  if (!(options.maxPixels > 0)) throw new ConfigError(`decode.maxPixels must be > 0, got ${options.maxPixels}`);
  if (options.formats.length === 0) throw new ConfigError('decode.formats must name at least one of jpeg, png, webp');
  for (const f of options.formats)
    if (!(f in CONTENT_TYPES)) throw new ConfigError(`decode.formats: unknown format "${f}" (use jpeg, png or webp)`);
  return mapConcurrentOrdered(async (r: FrameRecord) => {
    if (r.error) return r;
    const t0 = performance.now();
    await decodeOne(r, options);
    r.timings.decode = performance.now() - t0;
    return r;
  }, options.concurrency);
}

async function decodeOne(r: FrameRecord, o: DecodeOptions): Promise<void> {
  const bytes = r.payload;
  if (bytes.length === 0) return void fail(r, 'decode', 'empty-input', 'frame has zero bytes');
  if (bytes.length > o.maxBytes)
    return void fail(r, 'decode', 'image-too-large', `frame is ${bytes.length} bytes, over the ${o.maxBytes}-byte limit`);
  const kind = sniff(bytes);
  if (kind === 'unknown' || !o.formats.includes(kind as ImageFormat)) {
    const what = kind === 'unknown' ? 'not a recognised image' : `${kind.toUpperCase()}`;
    return void fail(r, 'decode', 'unsupported-format', `${what}; accepted formats: ${o.formats.join(', ')}`);
  }
  if (r.contentType && !CONTENT_TYPES[kind as ImageFormat].includes(r.contentType.toLowerCase().replace(/;.*$/s, '').trim())) {
    return void fail(
      r,
      'decode',
      'unsupported-format',
      `content type "${r.contentType}" does not match the ${kind.toUpperCase()} bytes of the frame`,
    );
  }
  let rgb: Rgb;
  try {
    const img = sharp(bytes, { limitInputPixels: o.maxPixels, failOn: 'error', sequentialRead: true });
    const meta = await img.metadata();
    if ((meta.width ?? 0) * (meta.height ?? 0) > o.maxPixels) {
      return void fail(r, 'decode', 'image-too-large', `${meta.width}x${meta.height} is over the ${o.maxPixels}-pixel limit`);
    }
    const { data, info } = await img.rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    rgb = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (err) {
    const msg = (err as Error).message;
    if (/pixel limit/i.test(msg)) return void fail(r, 'decode', 'image-too-large', msg);
    return void fail(r, 'decode', 'corrupt-image', `cannot decode ${kind.toUpperCase()}: ${msg}`);
  }
  r.image = { rgb, ...modelInputs(rgb, o) };
}

/** The model inputs of a decoded frame, as every stage (and `ogclip eval`) sees them. */
export function modelInputs(rgb: Rgb, o: Pick<DecodeOptions, 'sam2' | 'clip'>): { sam2Input: Chw; clipFrame: Planes; clipInput: Chw } {
  // Both models' inputs are read from the RGB bytes through per-channel tables: no float copy of
  // the frame is made (a 40 MP frame would need 480 MB for each model's normalisation).
  const sam2Input = resizePlanes(normalised(rgb, o.sam2.mean, o.sam2.std), o.sam2.size, o.sam2.size); // [3,S,S]
  const clipFrame = normalised(rgb, o.clip.mean, o.clip.std); // [3,H,W] on read; crops are cut from it
  // The whole frame is squashed to V x V (no centre crop) so that CLIP's token grid covers
  // every object the masks can point at; the head was trained on the same view.
  return { sam2Input, clipFrame, clipInput: resizePlanes(clipFrame, o.clip.size, o.clip.size) };
}
