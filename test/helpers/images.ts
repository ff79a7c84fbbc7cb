import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** A small RGB test image: left half red, right half blue. */
export async function pngImage(width = 64, height = 48): Promise<Uint8Array> {
  const px = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) px.set(i % width < width / 2 ? [220, 30, 30] : [30, 30, 220], i * 3);
  return new Uint8Array(
    await sharp(px, { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

export async function jpegImage(width = 64, height = 48, orientation?: number): Promise<Uint8Array> {
  let img = sharp(await pngImage(width, height)).jpeg({ quality: 90 });
  if (orientation) img = img.withMetadata({ orientation });
  return new Uint8Array(await img.toBuffer());
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const t = Buffer.from(type);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([t, data])));
  return Buffer.concat([len, t, data, crc]);
}

/** A tiny PNG that declares width x height (a decompression bomb's shape: small file, huge frame). */
export function pngBomb(width: number, height: number): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return new Uint8Array(
    Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(1000))), chunk('IEND', Buffer.alloc(0))]),
  );
}

/** A JPEG with its entropy-coded data overwritten: the header parses, the pixels do not. */
export async function corruptJpeg(): Promise<Uint8Array> {
  const good = Buffer.from(await jpegImage(64, 48));
  const bad = Buffer.from(good.subarray(0, Math.floor(good.length / 2)));
  return new Uint8Array(bad);
}

export const SVG = new TextEncoder().encode(
  '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
);
export const GIF = Uint8Array.from([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0, 0, 0, 0, 0x3b]);
