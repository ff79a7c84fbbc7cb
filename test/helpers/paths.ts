import { fileURLToPath } from 'node:url';

/** Repository root (tests run from dist/test/...). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURES = `${ROOT}test/fixtures/`;
export const DEFAULT_BUNDLE = `${ROOT}models/ogclip-shapes-tiny`;
export const SHAPES_VAL = `${ROOT}datasets/shapes-val`;
