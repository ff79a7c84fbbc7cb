import type { Command } from 'commander';

export function registerEval(program: Command): void {
  program.command('eval').description('object retrieval R@K and detection precision/recall on a dataset').argument('<dataset>');
}
