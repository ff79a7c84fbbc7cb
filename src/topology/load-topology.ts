import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { ConfigError } from '../errors.js';
import { assertValid } from '../schema/validator.js';
import type { SinkComponent, SourceComponent } from './component.js';
import { SINKS, SOURCES } from './registry.js';
import type { SinkKind, SourceKind, Topology } from './topology.js';

/**
 * Reads a topology YAML, validates it (every problem listed with its path and how to fix it),
 * fills in defaults, and makes its paths absolute relative to the file's folder.
 */
export async function loadTopology(path: string, overrides: (t: Topology) => void = () => {}): Promise<Topology> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new ConfigError(`${path}: topology file not found`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML: ${(err as Error).message}`);
  }
  const t = assertValid<Topology>('topology', doc, path);
  overrides(t);
  const base = dirname(resolve(path));
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  t.bundle = abs(t.bundle);
  (SOURCES[t.source.kind] as unknown as SourceComponent<SourceKind>).resolvePaths?.(t.source, abs);
  for (const s of t.sinks) (SINKS[s.kind] as unknown as SinkComponent<SinkKind>).resolvePaths?.(s, abs);
  if (t.mode === 'live' && t.source.kind === 'dataset' && t.source.fps === 0) {
    throw new ConfigError(`${path}: live mode replays a dataset like a camera: set source.fps > 0`);
  }
  return t;
}
