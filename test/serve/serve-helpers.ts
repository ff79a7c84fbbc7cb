import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { openObjectIndex } from '../../src/index/object-index.js';
import { readBundle } from '../../src/models/bundle.js';
import { openModelSet } from '../../src/models/model-set.js';
import { startSearchServer, type SearchServer } from '../../src/serve/search-server.js';
import { SearchService } from '../../src/serve/search-service.js';
import { DEFAULT_BUNDLE, ROOT, SHAPES_VAL } from '../helpers/paths.js';

const run = promisify(execFile);

/** An index of the first `frames` validation frames, written by `ogclip run` with an index sink. */
export async function buildIndex(frames: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ogclip-serve-'));
  const yaml = join(dir, 'index.yaml');
  await writeFile(
    yaml,
    stringify({
      name: 'serve-test',
      bundle: DEFAULT_BUNDLE,
      source: { kind: 'dataset', path: SHAPES_VAL, limit: frames, streamId: 'shapes' },
      sam2: { mode: 'automatic', pointsPerSide: 8 },
      sinks: [{ kind: 'index', path: 'index' }],
    }),
  );
  await run(process.execPath, [`${ROOT}bin/ogclip.js`, 'run', yaml], { cwd: ROOT, maxBuffer: 1 << 24 });
  return join(dir, 'index');
}

/** `ogclip serve` in this process on a free loopback port; `close` releases the server, the models and the index. */
export async function serveIndex(indexDir: string, maxUploadBytes = 4 << 20): Promise<SearchServer & { readonly service: SearchService }> {
  const index = await openObjectIndex(indexDir);
  const models = await openModelSet(await readBundle(DEFAULT_BUNDLE));
  const service = new SearchService(index, models);
  const server = await startSearchServer({ service, port: 0, host: '127.0.0.1', maxUploadBytes });
  return {
    service,
    url: server.url,
    close: async () => {
      await server.close();
      await models.dispose();
      index.close();
    },
  };
}
