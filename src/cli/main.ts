import { Command } from 'commander';
import { registerCamera } from './camera-command.js';
import { registerDetect, registerEmbed } from './single-image-commands.js';
import { registerEval } from './eval-command.js';
import { registerKafka } from './kafka-commands.js';
import { registerRun } from './run-command.js';
import { registerSearch } from './search-command.js';
import { registerServe } from './serve-command.js';

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
  registerSearch(program);
  registerServe(program);
  registerCamera(program);
  await program.parseAsync([...argv]);
}
