import { readFileSync, readdirSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import { ConfigError } from '../errors.js';

/** The JSON Schemas in the package's schemas/ folder (one per message and file format). */
export type SchemaName =
  'bundle' | 'topology' | 'frame-envelope' | 'prompts' | 'objects' | 'detections' | 'dead-letter' | 'labels-control' | 'summary' | 'rle';

const schemaDir = new URL('../../../schemas/', import.meta.url);
// discriminator: oneOf branches chosen by their `kind` (clear errors, and defaults applied inside).
const ajv = new Ajv({
  allErrors: true,
  useDefaults: true,
  strict: false,
  discriminator: true,
  verbose: true,
});
// ajv-formats is CommonJS: under NodeNext its default import is `module.exports`, whose typed
// callable is `.default` (the same function at run time). Full mode: dates and times are checked
// for range (month 13, hour 99 and 30 February are rejected), not only for shape.
ajvFormats.default(ajv);
const compiled = new Map<SchemaName, ValidateFunction>();

let loaded = false;

function validator(name: SchemaName): ValidateFunction {
  const known = compiled.get(name);
  if (known) return known;
  if (!loaded) {
    // All schemas at once, so that $refs between them (envelope -> prompts) resolve.
    for (const f of readdirSync(schemaDir).filter((n) => n.endsWith('.schema.json'))) {
      ajv.addSchema(JSON.parse(readFileSync(new URL(f, schemaDir), 'utf8')) as object);
    }
    loaded = true;
  }
  const v = ajv.getSchema(`https://ogclip.dev/schemas/${name}.schema.json`);
  if (!v) throw new Error(`schema ${name} is not in schemas/`);
  compiled.set(name, v);
  return v;
}

/** Human-readable problems, one per line: `source.kind: must be one of ...`. */
export function describeErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => {
    const where = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(top level)';
    switch (e.keyword) {
      case 'enum':
        return `${where}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
      case 'additionalProperties':
        return `${where}: unknown key "${(e.params as { additionalProperty: string }).additionalProperty}" (check its spelling)`;
      case 'discriminator': {
        // Name the allowed kinds instead of ajv's "value of tag ... must be in oneOf".
        const p = e.params as { tag: string; tagValue: unknown };
        const kinds = ((e.parentSchema as { oneOf?: { properties?: Record<string, { const?: unknown }> }[] })?.oneOf ?? [])
          .map((b) => b.properties?.[p.tag]?.const)
          .filter((k) => k !== undefined);
        return `${where}.${p.tag}: ${JSON.stringify(p.tagValue)} is not one of ${kinds.map((k) => JSON.stringify(k)).join(', ')}`;
      }
      case 'required':
        return `${where}: missing required key "${(e.params as { missingProperty: string }).missingProperty}"`;
      default:
        return `${where}: ${e.message ?? e.keyword}`;
    }
  });
}

/** Problems of `value` against a schema; empty when it is valid. Fills in schema defaults. */
export function validate(name: SchemaName, value: unknown): string[] {
  const v = validator(name);
  return v(value) ? [] : describeErrors(v.errors);
}

/** Validates or throws a ConfigError that lists every problem and where it is. */
export function assertValid<T>(name: SchemaName, value: unknown, where: string): T {
  const problems = validate(name, value);
  if (problems.length > 0) throw new ConfigError(`${where} is not a valid ${name}:\n  - ${problems.join('\n  - ')}`);
  return value as T;
}
