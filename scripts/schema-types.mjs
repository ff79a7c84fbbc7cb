// Derives the TypeScript types of every message and file format from schemas/*.json, so that
// each field, type and default is stated once (in the schema). The types describe values
// after validation: ajv fills in defaults, so a property with a default is never missing.
//
//   node scripts/schema-types.mjs          writes src/schema/types/<schema>.ts
//   node scripts/schema-types.mjs --check  exits 1 and names the files that are out of date
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';
import prettier from 'prettier';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SCHEMAS = `${ROOT}schemas/`;
const OUT = `${ROOT}src/schema/types/`;

/** The exported name of each schema's root type. */
export const TYPE_NAMES = {
  bundle: 'BundleManifest',
  topology: 'Topology',
  'frame-envelope': 'FrameEnvelope',
  prompts: 'PromptsMessage',
  objects: 'ObjectsMessage',
  detections: 'DetectionsMessage',
  'dead-letter': 'DeadLetterMessage',
  'labels-control': 'LabelsControlMessage',
  summary: 'RunSummary',
  rle: 'RleMessage',
};

/**
 * A copy of a schema as the validated value looks: properties with a default are required;
 * titles below the root become descriptions, so nested types are named by their key.
 */
function resolvedView(node, isRoot = true) {
  if (Array.isArray(node)) return node.map((n) => resolvedView(n, false));
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'title' && !isRoot) continue;
    if (k === 'default' || k === 'examples') continue; // a default is a value, not a type
    out[k] = k === 'properties' || k === 'definitions' ? mapValues(v, (s) => resolvedView(s, false)) : resolvedView(v, false);
  }
  if (node.properties) {
    const defaulted = Object.entries(node.properties)
      .filter(([, s]) => s && typeof s === 'object' && 'default' in s)
      .map(([k]) => k);
    const required = new Set([...(node.required ?? []), ...defaulted]);
    if (required.size > 0) out.required = [...required];
  }
  return out;
}

const mapValues = (o, f) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));

function schemaNames() {
  return readdirSync(SCHEMAS)
    .filter((f) => f.endsWith('.schema.json'))
    .map((f) => f.slice(0, -'.schema.json'.length))
    .sort();
}

function readView(name) {
  return resolvedView(JSON.parse(readFileSync(`${SCHEMAS}${name}.schema.json`, 'utf8')));
}

/** The TypeScript source of every schema's types, by schema name. */
export async function generate() {
  const names = schemaNames();
  const missing = names.filter((n) => !(n in TYPE_NAMES));
  if (missing.length > 0) throw new Error(`scripts/schema-types.mjs: give ${missing.join(', ')} a type name in TYPE_NAMES`);
  const style = await prettier.resolveConfig(`${ROOT}src/index.ts`);
  const out = {};
  for (const name of names) {
    const view = { ...readView(name), title: TYPE_NAMES[name] };
    out[name] = await compile(view, TYPE_NAMES[name], {
      bannerComment: `// Generated from schemas/${name}.schema.json by scripts/schema-types.mjs (npm run schemas:types); do not edit.\n// Properties with a schema default are required here: ajv fills them in when it validates.`,
      additionalProperties: false,
      unreachableDefinitions: false,
      ignoreMinAndMaxItems: true, // non-empty tuple types would refuse plain arrays built in code
      cwd: SCHEMAS,
      format: true,
      style,
      // Cross-file $refs (frame-envelope -> prompts) are read from schemas/, never fetched.
      $refOptions: {
        resolve: {
          http: false,
          ogclip: {
            order: 1,
            canRead: /\.schema\.json$/,
            read: (file) => {
              const name = basename(file.url, '.schema.json');
              return JSON.stringify({ ...readView(name), title: TYPE_NAMES[name] });
            },
          },
        },
      },
    });
  }
  return out;
}

async function main() {
  const check = process.argv.includes('--check');
  const generated = await generate();
  mkdirSync(OUT, { recursive: true });
  const stale = [];
  for (const [name, text] of Object.entries(generated)) {
    const path = `${OUT}${name}.ts`;
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {}
    if (current === text) continue;
    if (check) stale.push(`src/schema/types/${name}.ts`);
    else writeFileSync(path, text);
  }
  if (stale.length > 0) {
    console.error(`out of date with schemas/ (run npm run schemas:types): ${stale.join(', ')}`);
    process.exit(1);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
