import { Command, InvalidArgumentError } from 'commander';
import { registerDetect, registerEmbed } from './single-image-commands.js';
import { registerEval } from './eval-command.js';
import { registerKafka } from './kafka-commands.js';
import { registerRun } from './run-command.js';

/** `ogclip` command line: run a topology, embed or detect one image, evaluate on a dataset. */
export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('ogclip')
    .description('Object-guided CLIP on live streams and archives: SAM2 masks -> object embeddings -> zero-shot detections')
    .showHelpAfterError();
  registerRun(program);
  registerEmbed(program);
  registerDetect(program);
  registerEval(program);
  registerKafka(program);
  await program.parseAsync([...argv]);
}

export function parseNumberList(n: number, what: string) {
  return (value: string): number[] => {
    const parts = value.split(',').map((p) => Number(p.trim()));
    if (parts.length !== n || parts.some((p) => !Number.isFinite(p))) {
      throw new InvalidArgumentError(`${what} must be ${n} comma-separated numbers, got "${value}"`);
    }
    return parts;
  };
}
