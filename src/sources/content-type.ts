import { extname } from 'node:path';

const BY_EXTENSION: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
};

/** Content type from a file name, or undefined for anything else (decode sniffs the bytes). */
export function contentTypeOf(path: string): string | undefined {
  return BY_EXTENSION[extname(path).toLowerCase()];
}

export const IMAGE_EXTENSIONS = Object.keys(BY_EXTENSION);
