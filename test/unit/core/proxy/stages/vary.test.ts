// Vary through the stage proxy in process: answers that vary on request fields are stored per
// value of those fields and only ever served to requests with the same values (Accept-Encoding
// normalised), at most MAX_VARIANTS per URL; an answer that stops varying replaces its variants.

import zlib from 'node:zlib';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CacheFront } from '../../../../../src/core/turbocache/cache-front.js';
import { Turbocache } from '../../../../../src/core/turbocache/turbocache.js';
import { MAX_VARIANTS } from '../../../../../src/core/turbocache/vary.js';
import { listenAppServer, StageProxies, stopAppServer, type AppServer } from '../../../../helpers/stage-proxy.js';

let served: AppServer;
let renders = 0;
/** Whether /lang varies on Accept-Language (else one page for all). */
let langVaries = true;

beforeAll(async () => {
  served = await listenAppServer('ferry-vary-', (req, res) => {
    renders++;
    if (req.url === '/text') {
      // As compression middleware does: gzip when accepted, with Vary: Accept-Encoding either way.
      const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
      const body = Buffer.from(`text render=${renders}`);
      res.writeHead(200, { 'Cache-Control': 'public, max-age=60', Vary: 'Accept-Encoding', ...(gzip ? { 'Content-Encoding': 'gzip' } : {}) });
      res.end(gzip ? zlib.gzipSync(body) : body);
      return;
    }
    res.writeHead(200, { 'Cache-Control': 'public, max-age=60', ...(langVaries ? { Vary: 'Accept-Language' } : {}) });
    res.end(`lang ${req.headers['accept-language'] ?? 'none'} render=${renders}`);
  });
});

afterAll(async () => {
  await stopAppServer(served.app, served.dir);
});

const proxies = new StageProxies(() => served.socket);

afterEach(async () => {
  await proxies.stopAll();
  renders = 0;
  langVaries = true;
});

async function proxy(): Promise<{ url: string; cache: Turbocache }> {
  const cache = new Turbocache({ maxBytes: 1_000_000, maxEntryBytes: 100_000 });
  const { url } = await proxies.start({ context: () => ({ cache: new CacheFront(cache, { debugHeader: true }) }) });
  return { url, cache };
}

/** undici's request: it sends Accept-Encoding as given (fetch would add its own) and does not decode. */
async function get(url: string, headers: Record<string, string> = {}): Promise<{ cache: string; encoding: string | undefined; text: string }> {
  const res = await request(url, { headers });
  const raw = Buffer.from(await res.body.arrayBuffer());
  const encoding = res.headers['content-encoding'] as string | undefined;
  return { cache: String(res.headers['x-ferry-cache']), encoding, text: (encoding === 'gzip' ? zlib.gunzipSync(raw) : raw).toString() };
}

describe('turbocache: Vary', () => {
  it('keeps a gzip answer from a client that does not accept gzip, and shares each variant among clients that mean the same', async () => {
    const { url } = await proxy();
    const gzip = await get(`${url}/text`, { 'accept-encoding': 'gzip, deflate, br' });
    expect(gzip).toMatchObject({ cache: 'miss', encoding: 'gzip', text: 'text render=1' });
    // No Accept-Encoding: never the gzip body.
    const plain = await get(`${url}/text`);
    expect(plain).toMatchObject({ cache: 'miss', encoding: undefined, text: 'text render=2' });
    // The same codings in another spelling and order: the stored gzip variant.
    expect(await get(`${url}/text`, { 'accept-encoding': 'br;q=1.0, gzip;q=0.9, deflate' })).toMatchObject({ cache: 'hit', encoding: 'gzip', text: 'text render=1' });
    expect(await get(`${url}/text`)).toMatchObject({ cache: 'hit', encoding: undefined, text: 'text render=2' });
    // gzip refused by q=0: not the stored gzip variant (to the app, which decides).
    expect((await get(`${url}/text`, { 'accept-encoding': 'gzip;q=0, identity' })).cache).toBe('miss');
    expect(renders).toBe(3);
  });

  it('stores one variant per language, at most MAX_VARIANTS of a URL', async () => {
    const { url, cache } = await proxy();
    expect(await get(`${url}/lang`, { 'accept-language': 'fr' })).toMatchObject({ cache: 'miss', text: 'lang fr render=1' });
    expect(await get(`${url}/lang`, { 'accept-language': 'en' })).toMatchObject({ cache: 'miss', text: 'lang en render=2' });
    expect(await get(`${url}/lang`, { 'accept-language': 'fr' })).toMatchObject({ cache: 'hit', text: 'lang fr render=1' });
    for (let i = 0; i < MAX_VARIANTS + 4; i++) await get(`${url}/lang`, { 'accept-language': `x-${i}` });
    expect(cache.inspect().entries).toBe(MAX_VARIANTS);
    // The most recent variants are the ones kept.
    expect((await get(`${url}/lang`, { 'accept-language': `x-${MAX_VARIANTS + 3}` })).cache).toBe('hit');
    expect((await get(`${url}/lang`, { 'accept-language': 'fr' })).cache).toBe('miss');
  });

  it('replaces the variants of a URL whose answer stops varying, and the plain page of one that starts', async () => {
    const { url, cache } = await proxy();
    await get(`${url}/lang`, { 'accept-language': 'fr' });
    await get(`${url}/lang`, { 'accept-language': 'en' });
    expect(cache.inspect().entries).toBe(2);
    langVaries = false;
    // A reload (no-cache) refreshes it: now one page for everyone.
    await get(`${url}/lang`, { 'accept-language': 'de', 'cache-control': 'no-cache' });
    expect(cache.inspect().entries).toBe(1);
    expect(await get(`${url}/lang`, { 'accept-language': 'fr' })).toMatchObject({ cache: 'hit', text: 'lang de render=3' });
    langVaries = true;
    await get(`${url}/lang`, { 'accept-language': 'it', 'cache-control': 'no-cache' });
    expect(cache.inspect().entries).toBe(1);
    expect(await get(`${url}/lang`, { 'accept-language': 'fr' })).toMatchObject({ cache: 'miss', text: 'lang fr render=5' });
  });
});
