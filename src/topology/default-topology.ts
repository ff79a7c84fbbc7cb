import { assertValid } from '../schema/validator.js';
import type { Topology } from './topology.js';

/**
 * A topology with every default, for the single-image commands and tests: the given bundle, a
 * placeholder source (the caller passes its own), and no sinks unless `patch` names some (the
 * caller usually adds a collecting sink).
 */
export function defaultTopology(bundle: string, patch: Record<string, unknown> = {}): Topology {
  const t = assertValid<Topology>(
    'topology',
    { name: 'cli', bundle, source: { kind: 'directory', path: '.' }, sinks: [{ kind: 'console', everyMs: 0 }], ...patch },
    'command-line options',
  );
  if (!('sinks' in patch)) t.sinks = [];
  return t;
}
