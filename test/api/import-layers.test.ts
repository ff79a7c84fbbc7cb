import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from '../helpers/paths.js';

// The source tree's import graph, read from src/*.ts (type-only imports included: a type cycle
// still ties two layers together for whoever changes one of them).
function importGraph(): Map<string, string[]> {
  const src = join(ROOT, 'src');
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) files.push(p);
    }
  };
  walk(src);
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const deps = [...text.matchAll(/from '(\.[^']+)'/g)].map((m) => relative(src, resolve(dirname(f), m[1]!)).replace(/\.js$/, '.ts'));
    graph.set(relative(src, f), deps);
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const done = new Set<string>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    if (done.has(f)) return;
    const at = stack.indexOf(f);
    if (at >= 0) {
      found.push([...stack.slice(at), f].join(' -> '));
      return;
    }
    stack.push(f);
    for (const d of graph.get(f) ?? []) visit(d);
    stack.pop();
    done.add(f);
  };
  for (const f of graph.keys()) visit(f);
  return found;
}

test('no module imports itself through others (no import cycles in src/)', (t) => {
  t.deepEqual(cycles(importGraph()), []);
});

test('the cycle check finds a cycle when there is one', (t) => {
  const g = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts']],
  ]);
  t.deepEqual(cycles(g), ['a.ts -> b.ts -> c.ts -> a.ts']);
});

// Lower layers never reach up: tensor (pixels, vectors) < masks (masks, boxes, crops) < models (ONNX).
const LAYERS = ['tensor', 'masks', 'models'] as const;

test('tensor, masks and models import only from the layers below them', (t) => {
  const wrong: string[] = [];
  for (const [file, deps] of importGraph()) {
    const layer = LAYERS.indexOf(file.split('/')[0] as (typeof LAYERS)[number]);
    if (layer < 0) continue;
    for (const d of deps) {
      const other = LAYERS.indexOf(d.split('/')[0] as (typeof LAYERS)[number]);
      if (other > layer) wrong.push(`${file} imports ${d}`);
    }
  }
  t.deepEqual(wrong, []);
});
