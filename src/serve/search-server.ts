import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../errors.js';
import { parseTime, type SearchFilters } from '../index/index-filters.js';
import { objectFrame, objectTile } from '../index/object-images.js';
import type { IndexedObject, ObjectHit } from '../index/object-index.js';
import type { Sam2Prompt } from '../models/sam2.js';
import { RequestError, type SearchService } from './search-service.js';

export interface SearchServerOptions {
  readonly service: SearchService;
  /** 0: any free port. */
  readonly port: number;
  /** Loopback by default: the API has no authentication. */
  readonly host: string;
  /** Largest example image accepted, bytes. */
  readonly maxUploadBytes: number;
  /**
   * Host header values answered besides the loopback names (a proxy's public name). Requests for
   * any other host are refused: a page elsewhere could otherwise point its own name at 127.0.0.1
   * (DNS rebinding) and read the index through the user's browser.
   */
  readonly allowedHosts?: readonly string[];
  readonly log?: (line: string) => void;
}

export interface SearchServer {
  readonly url: string;
  close(): Promise<void>;
}

/** The page's files: the only paths served besides /api/. */
const WEB_DIR = new URL('../../../web/', import.meta.url);
const PAGES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};
const MAX_K = 200;
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
/** Frames decoded at once for pictures: each decode of a large frame holds its pixels twice over. */
const PICTURES_AT_ONCE = 4;
const TILE_SIDES = [96, 160, 256] as const;
const FRAME_SIDE = 1024;

function filtersOf(q: URLSearchParams): SearchFilters {
  try {
    return {
      ...(q.get('stream') ? { stream: q.get('stream')! } : {}),
      ...(q.get('since') ? { since: parseTime(q.get('since')!, 'since') } : {}),
      ...(q.get('until') ? { until: parseTime(q.get('until')!, 'until') } : {}),
    };
  } catch (err) {
    throw new RequestError(400, (err as Error).message);
  }
}

function countOf(q: URLSearchParams, name: string, fallback: number): number {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_K)
    throw new RequestError(400, `${name} must be a whole number from 1 to ${MAX_K}, got "${v}"`);
  return n;
}

function required(q: URLSearchParams, name: string): string {
  const v = q.get(name);
  if (!v) throw new RequestError(400, `the "${name}" parameter is missing`);
  return v;
}

function numbers(v: string, n: number, name: string): number[] {
  const parts = v.split(',').map(Number);
  if (parts.length !== n || !parts.every(Number.isFinite))
    throw new RequestError(400, `${name} must be ${n} numbers separated by commas, got "${v}"`);
  return parts;
}

function promptOf(q: URLSearchParams): Sam2Prompt {
  const point = q.get('point');
  const box = q.get('box');
  if (!point === !box) throw new RequestError(400, 'give exactly one of point=x,y or box=x0,y0,x1,y1: where the object is in the image');
  if (point) {
    const [x, y] = numbers(point, 2, 'point');
    return { points: [[x!, y!]], labels: [1] };
  }
  const [x0, y0, x1, y1] = numbers(box!, 4, 'box');
  return { box: [x0!, y0!, x1!, y1!] };
}

/** An object as the API shows it: its fields, the URLs of its pictures, and its score when it is a hit. */
function objectJson(o: IndexedObject | ObjectHit) {
  const key = encodeURIComponent(o.key);
  return {
    key: o.key,
    ...('score' in o ? { score: Number(o.score.toFixed(6)) } : {}),
    stream_id: o.streamId,
    frame_id: o.frameId,
    timestamp: o.timestamp,
    // A timestamp outside what a Date holds (nanoseconds written as ms, say) must not fail the answer.
    time: Number.isFinite(new Date(o.timestamp).getTime()) ? new Date(o.timestamp).toISOString() : null,
    object_id: o.objectId,
    box: o.box,
    labels: o.labels.map((l) => ({ label: l.label, score: Number(l.score.toFixed(5)) })),
    model: o.model,
    origin: o.origin,
    thumbnail: `/api/thumbnail?key=${key}`,
    frame: `/api/frame?key=${key}`,
  };
}

async function body(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw new RequestError(413, `the image is ${declared} bytes, over the ${limit}-byte limit`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new RequestError(413, `the image is over the ${limit}-byte limit`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) throw new RequestError(400, 'the request has no image: send its bytes as the body');
  return new Uint8Array(Buffer.concat(chunks));
}

function send(res: ServerResponse, status: number, type: string, payload: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(payload);
}

const json = (res: ServerResponse, status: number, value: unknown) => send(res, status, 'application/json', JSON.stringify(value));

/**
 * The search page and its JSON API over one object index (see docs/search.md for the routes).
 * Every request is answered on its own: a bad parameter is a 400 with the reason, an unknown key
 * a 404, and a failure of one request never stops the server.
 */
export async function startSearchServer(o: SearchServerOptions): Promise<SearchServer> {
  const { service } = o;
  const log = o.log ?? (() => {});

  const routes: Record<string, (q: URLSearchParams, req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    'GET /api/info': async (_q, _req, res) => {
      const m = service.index.manifest;
      json(res, 200, { model: service.index.modelVersion, embedder: m.embedder, dim: m.dim, objects: await service.index.count() });
    },
    'GET /api/search': async (q, _req, res) => {
      const answer = await service.byText(required(q, 'text'), filtersOf(q), countOf(q, 'k', 24));
      json(res, 200, { candidates: answer.candidates, hits: answer.hits.map(objectJson) });
    },
    'POST /api/search/example': async (q, req, res) => {
      const type = (req.headers['content-type'] ?? '').toLowerCase();
      if (!type.startsWith('image/'))
        throw new RequestError(415, `send the example as an image (content-type image/jpeg, image/png or image/webp), not "${type}"`);
      const prompt = promptOf(q);
      const filters = filtersOf(q);
      const k = countOf(q, 'k', 24);
      const answer = await service.byExample(await body(req, o.maxUploadBytes), prompt, filters, k);
      json(res, 200, {
        object: { box: answer.object.box, labels: answer.object.labels },
        candidates: answer.candidates,
        hits: answer.hits.map(objectJson),
      });
    },
    'GET /api/similar': async (q, _req, res) => {
      const answer = await service.similarTo(required(q, 'key'), filtersOf(q), countOf(q, 'k', 24));
      json(res, 200, { object: objectJson(answer.object), candidates: answer.candidates, hits: answer.hits.map(objectJson) });
    },
    'GET /api/objects': async (q, _req, res) => {
      const answer = await service.browse(filtersOf(q), countOf(q, 'limit', 48));
      json(res, 200, { candidates: answer.candidates, objects: answer.objects.map(objectJson) });
    },
    'GET /api/object': async (q, _req, res) => {
      json(res, 200, objectJson(await service.object(required(q, 'key'))));
    },
    'GET /api/thumbnail': async (q, _req, res) => {
      const side = Number(q.get('size') ?? 160);
      if (!(TILE_SIDES as readonly number[]).includes(side)) throw new RequestError(400, `size must be one of ${TILE_SIDES.join(', ')}`);
      const o = await service.object(required(q, 'key'));
      picture(res, await drawn(() => objectTile(o, side)));
    },
    'GET /api/frame': async (q, _req, res) => {
      const o = await service.object(required(q, 'key'));
      picture(res, await drawn(() => objectFrame(o, FRAME_SIDE)));
    },
  };

  // A small gate: pictures decode whole frames, and a grid asks for many at once.
  let drawing = 0;
  const waiting: (() => void)[] = [];
  async function drawn<T>(draw: () => Promise<T>): Promise<T> {
    while (drawing >= PICTURES_AT_ONCE) await new Promise<void>((go) => waiting.push(go));
    drawing++;
    try {
      return await draw();
    } finally {
      drawing--;
      waiting.shift()?.();
    }
  }

  function picture(res: ServerResponse, png: Buffer | { reason: string }) {
    // A frame that cannot be read again (Kafka origin, a moved file) is gone, not a server fault.
    if (Buffer.isBuffer(png)) send(res, 200, 'image/png', png);
    else json(res, 404, { error: png.reason });
  }

  const hosts = new Set([...LOOPBACK_NAMES, ...(o.allowedHosts ?? [])].map((h) => h.toLowerCase()));
  const hostAllowed = (header: string | undefined) => {
    const name = (header ?? '').toLowerCase().replace(/:\d+$/, '');
    return hosts.has(name);
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return json(res, 400, { error: `not a request path: ${req.url}` });
    }
    if (!hostAllowed(req.headers.host)) {
      return json(res, 421, {
        error: `this server answers for ${[...hosts].join(', ')}, not "${req.headers.host ?? ''}" (add it with --allowed-host)`,
      });
    }
    const route = routes[`${req.method} ${url.pathname}`];
    try {
      if (route) return await route(url.searchParams, req, res);
      const page = req.method === 'GET' ? PAGES[url.pathname] : undefined;
      if (page) return send(res, 200, page.type, await readFile(new URL(page.file, WEB_DIR)));
      json(res, 404, { error: `no such route: ${req.method} ${url.pathname}` });
    } catch (err) {
      if (err instanceof RequestError) return json(res, err.status, { error: err.message });
      if (err instanceof ConfigError) return json(res, 400, { error: err.message });
      log(`serve: ${req.method} ${url.pathname} failed: ${(err as Error).stack ?? err}`);
      json(res, 500, { error: `internal error: ${(err as Error).message}` });
    }
  }

  const inFlight = new Set<Promise<void>>();
  const server: Server = createServer((req, res) => {
    const answer = handle(req, res).catch((err) => {
      log(`serve: cannot answer ${req.url}: ${(err as Error).message}`);
      res.destroy();
    });
    inFlight.add(answer);
    void answer.finally(() => inFlight.delete(answer));
  });
  await new Promise<void>((resolve, reject) => {
    const refused = (err: Error) => reject(new ConfigError(`serve: cannot listen on ${o.host}:${o.port} (${err.message})`));
    server.once('error', refused);
    server.listen(o.port, o.host, () => {
      server.off('error', refused);
      server.on('error', (err) => log(`serve: ${err.message}`));
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    // Stops listening, lets the requests under way finish (the caller closes the models and
    // the index after this), then drops idle keep-alive connections.
    close: async () => {
      const closed = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
      server.closeIdleConnections();
      await Promise.allSettled([...inFlight]);
      server.closeAllConnections();
      await closed;
    },
  };
}
