// --compression through the stage proxy in process: text-like answers compressed with brotli or
// gzip as the client accepts, streamed answers still streamed, nothing else touched, and the
// turbocache keeping each compressed variant so that a hit costs no compression.

import http from 'node:http';
import zlib from 'node:zlib';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CacheFront } from '../../../../../src/core/turbocache/cache-front.js';
import { Turbocache } from '../../../../../src/core/turbocache/turbocache.js';
import type { StageContext } from '../../../../../src/core/proxy/stages/context.js';
import { listenAppServer, StageProxies, stopAppServer, type AppServer } from '../../../../helpers/stage-proxy.js';

let served: AppServer;
let renders = 0;
const PAGE = `<!doctype html><title>t</title>${'<p>Ferry compresses this page. '.repeat(700)}`;

beforeAll(async () => {
  served = await listenAppServer('ferry-compress-', (req, res) => {
    renders++;
    switch (req.url) {
      case '/page':
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(PAGE), ETag: '"p1"', 'Cache-Control': 'public, max-age=60' });
        res.end(PAGE);
        return;
      case '/small':
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '5' });
        res.end('small');
        return;
      case '/png':
        res.writeHead(200, { 'Content-Type': 'image/png' });
        res.end(Buffer.alloc(4096, 1));
        return;
      case '/stream':
        // Written in two parts 300 ms apart: the first must reach the client before the second is written.
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('first part\n');
        setTimeout(() => res.end('second part\n'), 300);
        return;
      default:
        res.writeHead(404);
        res.end();
    }
  });
});

afterAll(async () => {
  await stopAppServer(served.app, served.dir);
});

const proxies = new StageProxies(() => served.socket);

afterEach(async () => {
  await proxies.stopAll();
  renders = 0;
});

async function proxy(cache = false): Promise<{ url: string; ctx: StageContext }> {
  return proxies.start({
    config: { compression: true },
    context: () => ({ compression: true, cache: cache ? new CacheFront(new Turbocache({ maxBytes: 4_000_000, maxEntryBytes: 1_000_000 }), { debugHeader: true }) : undefined }),
  });
}

function decode(encoding: string | undefined, raw: Buffer): string {
  if (encoding === 'br') return zlib.brotliDecompressSync(raw).toString();
  if (encoding === 'gzip') return zlib.gunzipSync(raw).toString();
  return raw.toString();
}

async function get(url: string, acceptEncoding?: string): Promise<{ encoding: string | undefined; headers: http.IncomingHttpHeaders; raw: Buffer; text: string }> {
  const res = await request(url, { headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } });
  const raw = Buffer.from(await res.body.arrayBuffer());
  const encoding = res.headers['content-encoding'] as string | undefined;
  return { encoding, headers: res.headers as http.IncomingHttpHeaders, raw, text: decode(encoding, raw) };
}

describe('--compression', () => {
  it('compresses a page with brotli or gzip as the client accepts, whole, with Vary and a weak ETag', async () => {
    const { url, ctx } = await proxy();
    const br = await get(`${url}/page`, 'gzip, deflate, br');
    expect(br.encoding).toBe('br');
    expect(br.text).toBe(PAGE);
    expect(br.raw.length).toBeLessThan(PAGE.length / 10);
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(br.headers.etag).toBe('W/"p1"');
    expect(br.headers['content-length']).toBeUndefined();
    const gzip = await get(`${url}/page`, 'gzip');
    expect(gzip.encoding).toBe('gzip');
    expect(gzip.text).toBe(PAGE);
    const plain = await get(`${url}/page`);
    expect(plain.encoding).toBeUndefined();
    expect(plain.text).toBe(PAGE);
    expect(plain.headers.etag).toBe('"p1"');
    // Counted for ferry status and the metrics: two answers, the page's bytes in, much less out.
    expect(ctx.tracker.compression).toEqual({ responses: 2, bytesIn: 2 * Buffer.byteLength(PAGE), bytesOut: br.raw.length + gzip.raw.length });
  });

  it('leaves small answers and images as they are', async () => {
    const { url } = await proxy();
    expect(await get(`${url}/small`, 'br')).toMatchObject({ encoding: undefined, text: 'small' });
    const png = await get(`${url}/png`, 'br');
    expect(png.encoding).toBeUndefined();
    expect(png.raw.length).toBe(4096);
  });

  it('sends each part of a streamed answer as it is written, compressed', async () => {
    const { url } = await proxy();
    const res = await request(`${url}/stream`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.headers['content-encoding']).toBe('gzip');
    const inflate = zlib.createGunzip();
    const seen: { text: string; atMs: number }[] = [];
    inflate.on('data', (chunk: Buffer) => seen.push({ text: chunk.toString(), atMs: Date.now() }));
    for await (const chunk of res.body) inflate.write(chunk as Buffer);
    inflate.end();
    await new Promise((resolve) => inflate.once('end', resolve));
    expect(seen.map((s) => s.text).join('')).toBe('first part\nsecond part\n');
    // The first part was decoded on its own, long before the second (written 300 ms later).
    expect(seen[0]!.text).toBe('first part\n');
    expect(seen[seen.length - 1]!.atMs - seen[0]!.atMs).toBeGreaterThanOrEqual(150);
  });

  it('keeps each compressed variant in the turbocache: a hit costs no compression and no render', async () => {
    const { url } = await proxy(true);
    const first = await get(`${url}/page`, 'br, gzip');
    expect(first.headers['x-ferry-cache']).toBe('miss');
    const hit = await get(`${url}/page`, 'gzip, br');
    expect(hit.headers['x-ferry-cache']).toBe('hit');
    expect(hit.encoding).toBe('br');
    expect(hit.raw.equals(first.raw)).toBe(true);
    expect(hit.text).toBe(PAGE);
    // Other codings are other variants: their own render, then hits of their own.
    expect((await get(`${url}/page`, 'gzip')).headers['x-ferry-cache']).toBe('miss');
    expect(await get(`${url}/page`, 'gzip')).toMatchObject({ encoding: 'gzip', text: PAGE });
    const plain = await get(`${url}/page`);
    expect(plain).toMatchObject({ encoding: undefined, text: PAGE });
    expect(renders).toBe(3);
  });
});
