import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { isUri } from '../index/index-sink.js';
import { openObjectIndex } from '../index/object-index.js';
import { readBundle } from '../models/bundle.js';
import { openModelSet } from '../models/model-set.js';
import { startSearchServer } from '../serve/search-server.js';
import { SearchService } from '../serve/search-service.js';
import { DEFAULT_BUNDLE } from './cli-options.js';

interface ServeOptions {
  index: string;
  table: string;
  bundle: string;
  port: number;
  host: string;
  maxUploadMb: number;
  allowedHost: string[];
}

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--port must be 0 to 65535, got "${v}"`);
  return n;
};

const megabytes = (v: string) => {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError(`--max-upload-mb must be a positive number, got "${v}"`);
  return n;
};

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('the search page and its JSON API over an object index (search by text, by example, by stream and time)')
    .requiredOption('--index <dir>', 'index folder or object-store URI (the path of an index sink)')
    .option('--table <name>', 'table inside the index', 'objects')
    .option('--bundle <dir>', "model bundle folder; must be the index's model version", DEFAULT_BUNDLE)
    .option('--port <n>', 'port (0: any free one)', port, 8090)
    .option('--host <address>', 'address to listen on (the API has no authentication: keep it on loopback or behind a proxy)', '127.0.0.1')
    .option('--max-upload-mb <n>', 'largest example image accepted', megabytes, 20)
    .option(
      '--allowed-host <name>',
      'a Host header to answer besides localhost/127.0.0.1/[::1], e.g. the name a proxy serves it under (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .action(async (o: ServeOptions) => {
      const index = await openObjectIndex({ uri: isUri(o.index) ? o.index : resolve(o.index), table: o.table });
      const models = await openModelSet(await readBundle(resolve(o.bundle))).catch((err) => {
        index.close();
        throw err;
      });
      let server;
      try {
        server = await startSearchServer({
          service: new SearchService(index, models),
          port: o.port,
          host: o.host,
          maxUploadBytes: Math.round(o.maxUploadMb * 1024 * 1024),
          allowedHosts: o.allowedHost,
          log: (line) => process.stderr.write(line + '\n'),
        });
      } catch (err) {
        await models.dispose();
        index.close();
        throw err;
      }
      try {
        process.stderr.write(`serving ${await index.count()} objects of ${index.modelVersion} on ${server.url}\n`);
        await new Promise<void>((done) => {
          process.once('SIGINT', done);
          process.once('SIGTERM', done);
        });
      } finally {
        await server.close();
        await models.dispose();
        index.close();
      }
    });
}
