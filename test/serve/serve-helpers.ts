import { openObjectIndex } from '../../src/index/object-index.js';
import { readBundle } from '../../src/models/bundle.js';
import { openModelSet } from '../../src/models/model-set.js';
import { startSearchServer, type SearchServer } from '../../src/serve/search-server.js';
import { SearchService } from '../../src/serve/search-service.js';
import { DEFAULT_BUNDLE } from '../helpers/paths.js';

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
