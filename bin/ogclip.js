#!/usr/bin/env node
// The CLI is written in TypeScript and compiled to dist/ (`npm run build`).
import { main } from '../dist/src/cli/main.js';

main(process.argv).catch((err) => {
  process.stderr.write(`ogclip: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
