// Option parsing shared by the commands; kept apart from main.ts so commands never import the entry point.
import { InvalidArgumentError } from 'commander';

/** The bundle the commands use when none is named: the shapes model shipped in the package. */
export const DEFAULT_BUNDLE = new URL('../../../models/ogclip-shapes-tiny', import.meta.url).pathname;

export function parseNumberList(n: number, what: string) {
  return (value: string): number[] => {
    const parts = value.split(',').map((p) => Number(p.trim()));
    if (parts.length !== n || parts.some((p) => !Number.isFinite(p))) {
      throw new InvalidArgumentError(`${what} must be ${n} comma-separated numbers, got "${value}"`);
    }
    return parts;
  };
}
