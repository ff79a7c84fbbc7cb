import { assertValid } from '../schema/validator.js';
import type { Topology } from './topology.js';

/**
 * A topology with every default, for the single-image commands: the given bundle, no sinks of
 * its own (the caller adds a collecting sink) and a placeholder source (the caller's is used).
 */
export function defaultTopology(bundle: string, patch: Record<string, unknown> = {}): Topology {
  const t = assertValid<Topology>(
    'topology',
    { name: 'cli', bundle, source: { kind: 'directory', path: '.' }, sinks: [{ kind: 'console', everyMs: 0 }], ...patch },
    'command-line options',
  );
  t.sinks = [];
  return t;
}
