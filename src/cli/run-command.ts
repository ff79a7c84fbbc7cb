import type { Command } from 'commander';
import { loadTopology } from '../topology/load-topology.js';
import { reportRuntimeHealth } from '../telemetry/runtime-health.js';
import { startTelemetry } from '../telemetry/start-telemetry.js';
import { startTopology } from '../topology/start-topology.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a topology (YAML) until its source ends, or until SIGINT/SIGTERM')
    .argument('<topology>', 'topology file, e.g. topologies/demo.yaml')
    .option('--limit <n>', 'process at most n frames (dataset sources)', (v) => Number.parseInt(v, 10))
    .action(async (path: string, opts: { limit?: number }) => {
      const topology = await loadTopology(path, (t) => {
        if (opts.limit !== undefined && t.source.kind === 'dataset') t.source.limit = opts.limit;
      });
      process.stderr.write(`ogclip: running ${topology.name} with ${topology.bundle}\n`);
      const telemetry = await startTelemetry({ serviceName: `ogclip-${topology.name}`, ...topology.telemetry });
      const running = await startTopology(topology).catch(async (err: unknown) => {
        await telemetry.shutdown();
        throw err;
      });
      telemetry.setReady(true);
      reportRuntimeHealth(running.models.worker, telemetry, (line) => process.stderr.write(`ogclip: ${line}\n`));
      const stop = () => {
        process.stderr.write('ogclip: stopping: finishing frames in flight\n');
        running.stop();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await running.done;
      } catch (err) {
        telemetry.setFailed((err as Error).message);
        throw err;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await telemetry.shutdown();
      }
    });
}
