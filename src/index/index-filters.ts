import { ConfigError } from '../errors.js';

/** Which objects a search may return: a stream and a capture-time window [since, until). */
export interface SearchFilters {
  readonly stream?: string;
  /** ms since epoch, inclusive */
  readonly since?: number;
  /** ms since epoch, exclusive */
  readonly until?: number;
}

/** A string as an SQL literal. */
export const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The filters as a LanceDB SQL `where` predicate, or undefined when there is none. */
export function wherePredicate(f: SearchFilters): string | undefined {
  const parts: string[] = [];
  if (f.stream !== undefined) parts.push(`stream_id = ${sqlString(f.stream)}`);
  for (const [name, v] of [
    ['since', f.since],
    ['until', f.until],
  ] as const) {
    if (v !== undefined && !Number.isSafeInteger(v)) throw new ConfigError(`${name}: ${v} is not a time in whole ms since the epoch`);
  }
  if (f.since !== undefined) parts.push(`timestamp >= ${f.since}`);
  if (f.until !== undefined) parts.push(`timestamp < ${f.until}`);
  return parts.length ? parts.join(' AND ') : undefined;
}

/** An ISO 8601 time (or ms since the epoch) as ms since the epoch; `what` names the option in the error. */
export function parseTime(value: string, what: string): number {
  const ms = /^-?\d+$/.test(value.trim()) ? Number(value) : Date.parse(value);
  if (!Number.isSafeInteger(ms))
    throw new ConfigError(`${what}: "${value}" is not an ISO 8601 time (2024-05-01T12:00:00Z) or ms since the epoch`);
  return ms;
}
