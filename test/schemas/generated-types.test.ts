import test from 'ava';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../helpers/paths.js';

interface Generator {
  generate(): Promise<Record<string, string>>;
}

const generator = async (): Promise<Generator> => (await import(pathToFileURL(`${ROOT}scripts/schema-types.mjs`).href)) as Generator;

// The types the code compiles against must say what the schemas say: a schema edited without
// `npm run schemas:types` fails here, naming the file to regenerate.
test('src/schema/types/ is what scripts/schema-types.mjs derives from schemas/', async (t) => {
  const generated = await (await generator()).generate();
  t.true(Object.keys(generated).length >= 10);
  for (const [name, text] of Object.entries(generated)) {
    const path = `src/schema/types/${name}.ts`;
    t.is(readFileSync(`${ROOT}${path}`, 'utf8'), text, `${path} is out of date: run npm run schemas:types`);
  }
});

test('a property with a schema default is required in the derived type, one without stays optional', async (t) => {
  const { topology, bundle } = await (await generator()).generate();
  t.regex(topology!, /\n {2}maxInFlight: number;/); // default 16
  t.regex(topology!, /\n {2}description\?: string;/); // no default
  t.regex(bundle!, /\n {4}dtype: Dtype;/); // default fp32
  t.regex(bundle!, /\n {2}embedding_dim\?: number;/);
});
