// The turbocache's stale entries through the stage proxy in process: revalidation (RFC 9111
// §4.3: a stale entry with a validator is kept, the app is asked about it with a conditional
// request, its 304 freshens the entry and sends the client the stored answer, a 200 replaces it),
// stale-while-revalidate and stale-if-error (RFC 5861, and --turbocache-serve-stale-on-error).
// The app is an in-process node:http server whose answers each test sets; the cache's clock is
// the test's.

import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CacheFront } from '../../../../../src/core/turbocache/cache-front.js';
import { STALE_KEEP_MS, Turbocache } from '../../../../../src/core/turbocache/turbocache.js';
import { listenAppServer, StageProxies, stopAppServer, type AppServer } from '../../../../helpers/stage-proxy.js';

let served: AppServer;
/** The requests the app saw. */
const seen: http.IncomingHttpHeaders[] = [];
/** How the app answers; each test sets it. */
let answer: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => res.end();

beforeAll(async () => {
  served = await listenAppServer('ferry-revalidate-', (req, res) => {
    seen.push(req.headers);
    // The app's clock is the cache's: ages come out as the test moves time on.
    res.setHeader('Date', new Date(nowMs).toUTCString());
    answer(req, res);
  });
});

afterAll(async () => {
  await stopAppServer(served.app, served.dir);
});

const proxies = new StageProxies(() => served.socket);

afterEach(async () => {
  await proxies.stopAll();
  seen.length = 0;
});

let nowMs = 0;

async function proxy(options: { staleOnErrorMs?: number; maxRequestTimeMs?: number } = {}): Promise<{ url: string; cache: Turbocache }> {
  nowMs = Date.now();
  const cache = new Turbocache({ maxBytes: 1_000_000, maxEntryBytes: 100_000, ...(options.staleOnErrorMs !== undefined ? { staleOnErrorMs: options.staleOnErrorMs } : {}) });
  const { url } = await proxies.start({
    app: { limits: { maxRequestTimeMs: options.maxRequestTimeMs ?? 0 } },
    context: () => ({ cache: new CacheFront(cache, { debugHeader: true, now: () => nowMs }) }),
  });
  return { url, cache };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; cache: string | null; body: string; headers: Headers }> {
  const res = await fetch(url, { headers });
  return { status: res.status, cache: res.headers.get('x-ferry-cache'), body: await res.text(), headers: res.headers };
}

/** An app whose page has version `version.n` and ETag "v<n>", public for 60 s; 304 to a matching If-None-Match. */
function versionedApp(version: { n: number }, extra304: Record<string, string> = {}): typeof answer {
  return (req, res) => {
    const etag = `"v${version.n}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ETag: etag, 'Cache-Control': 'public, max-age=60', ...extra304 });
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/plain', ETag: etag, 'Cache-Control': 'public, max-age=60', 'X-Version': String(version.n) });
    res.end(`page ${version.n}`);
  };
}

describe('turbocache revalidation', () => {
  it('asks the app about a stale entry with its ETag; a 304 sends the client the stored page and makes it fresh again', async () => {
    const { url, cache } = await proxy();
    const version = { n: 1 };
    answer = versionedApp(version, { 'X-Checked': 'yes' });
    expect(await get(`${url}/page`)).toMatchObject({ status: 200, cache: 'miss', body: 'page 1' });
    nowMs += 61_000;
    const revalidated = await get(`${url}/page`);
    expect(revalidated).toMatchObject({ status: 200, cache: 'revalidated', body: 'page 1' });
    // The stored fields, freshened by the 304's.
    expect(revalidated.headers.get('x-version')).toBe('1');
    expect(revalidated.headers.get('x-checked')).toBe('yes');
    expect(revalidated.headers.get('content-length')).toBe('6');
    expect(seen).toHaveLength(2);
    expect(seen[1]!['if-none-match']).toBe('"v1"');
    // Fresh for another 60 s: a hit, the app not asked.
    nowMs += 5_000;
    const hit = await get(`${url}/page`);
    expect(hit).toMatchObject({ status: 200, cache: 'hit', body: 'page 1' });
    expect(hit.headers.get('x-checked')).toBe('yes');
    expect(Number(hit.headers.get('age'))).toBeLessThan(10);
    expect(seen).toHaveLength(2);
    expect(cache.inspect()).toMatchObject({ revalidations: 1, revalidated: 1 });
  });

  it('stores the new page when the app answers the conditional request with 200', async () => {
    const { url, cache } = await proxy();
    const version = { n: 1 };
    answer = versionedApp(version);
    await get(`${url}/page`);
    nowMs += 61_000;
    version.n = 2;
    expect(await get(`${url}/page`)).toMatchObject({ status: 200, cache: 'miss', body: 'page 2' });
    expect(seen[1]!['if-none-match']).toBe('"v1"');
    expect(await get(`${url}/page`)).toMatchObject({ cache: 'hit', body: 'page 2' });
    expect(seen).toHaveLength(2);
    expect(cache.inspect()).toMatchObject({ revalidations: 1, revalidated: 0 });
  });

  it('uses Last-Modified when there is no ETag', async () => {
    const { url } = await proxy();
    const lastModified = 'Tue, 01 Dec 2026 10:00:00 GMT';
    answer = (req, res) => {
      if (req.headers['if-modified-since'] === lastModified) {
        res.writeHead(304);
        res.end();
        return;
      }
      res.writeHead(200, { 'Last-Modified': lastModified, 'Cache-Control': 'max-age=10' });
      res.end('dated');
    };
    await get(`${url}/dated`);
    nowMs += 11_000;
    expect(await get(`${url}/dated`)).toMatchObject({ status: 200, cache: 'revalidated', body: 'dated' });
    expect(seen[1]!['if-modified-since']).toBe(lastModified);
    expect(seen[1]!['if-none-match']).toBeUndefined();
  });

  it('stores a no-cache answer with a validator and revalidates it on every request', async () => {
    const { url, cache } = await proxy();
    answer = (req, res) => {
      if (req.headers['if-none-match'] === '"same"') {
        res.writeHead(304, { ETag: '"same"' });
        res.end();
        return;
      }
      res.writeHead(200, { ETag: '"same"', 'Cache-Control': 'no-cache' });
      res.end('always checked');
    };
    expect(await get(`${url}/nc`)).toMatchObject({ cache: 'miss', body: 'always checked' });
    for (let i = 0; i < 3; i++) expect(await get(`${url}/nc`)).toMatchObject({ status: 200, cache: 'revalidated', body: 'always checked' });
    expect(seen).toHaveLength(4);
    expect(seen.slice(1).every((h) => h['if-none-match'] === '"same"')).toBe(true);
    // At once, none waits for another's revalidation: its result would be stale at once anyway.
    const together = await Promise.all(Array.from({ length: 5 }, () => get(`${url}/nc`)));
    expect(together.every((a) => a.body === 'always checked')).toBe(true);
    expect(seen).toHaveLength(9);
    expect(cache.inspect().collapsed).toBe(0);
  });

  it("passes a client's own conditional request through untouched, with the app's 304 for it", async () => {
    const { url } = await proxy();
    const version = { n: 1 };
    answer = versionedApp(version);
    await get(`${url}/page`);
    nowMs += 61_000;
    const mine = await get(`${url}/page`, { 'If-None-Match': '"v1"' });
    expect(mine.status).toBe(304);
    expect(seen[1]!['if-none-match']).toBe('"v1"');
    // An If-Modified-Since of the client's own: not replaced by Ferry's validators either.
    await get(`${url}/page`, { 'If-Modified-Since': 'Tue, 01 Dec 2026 10:00:00 GMT' });
    expect(seen[2]!['if-modified-since']).toBe('Tue, 01 Dec 2026 10:00:00 GMT');
    expect(seen[2]!['if-none-match']).toBeUndefined();
  });

  it('never stores a 304 that sets a cookie: that client gets it, the next one goes to the app', async () => {
    const { url } = await proxy();
    const version = { n: 1 };
    answer = versionedApp(version, { 'Set-Cookie': 'session=abc' });
    await get(`${url}/page`);
    nowMs += 61_000;
    const first = await get(`${url}/page`);
    expect(first).toMatchObject({ status: 200, body: 'page 1' });
    expect(first.headers.get('set-cookie')).toBe('session=abc');
    const next = await get(`${url}/page`);
    expect(next.headers.get('set-cookie')).toBeNull();
    expect(next.cache).toBe('miss');
    expect(seen).toHaveLength(3);
    expect(seen[2]!['if-none-match']).toBeUndefined();
  });

  it('sends one conditional request for a stale entry however many clients ask at once; they all get the page', async () => {
    const { url, cache } = await proxy();
    const version = { n: 1 };
    const plain = versionedApp(version);
    answer = plain;
    await get(`${url}/page`);
    nowMs += 61_000;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    answer = (req, res) => void held.then(() => plain(req, res));
    const asks = Array.from({ length: 5 }, () => get(`${url}/page`));
    await expect.poll(() => seen.length).toBe(2);
    // The others wait for it (collapsed), none at the app.
    await expect.poll(() => cache.inspect().collapsed).toBe(4);
    release();
    const answers = await Promise.all(asks);
    expect(answers.map((a) => a.body)).toEqual(Array(5).fill('page 1'));
    expect(answers.map((a) => a.cache).sort()).toEqual(['hit', 'hit', 'hit', 'hit', 'revalidated']);
    expect(seen).toHaveLength(2);
  });

  it('keeps a stale entry without a validator no longer, and one with a validator only for STALE_KEEP_MS', async () => {
    const { url } = await proxy();
    answer = (req, res) => {
      res.writeHead(200, { 'Cache-Control': 'max-age=1', ...(req.url === '/tagged' ? { ETag: '"t"' } : {}) });
      res.end('x');
    };
    await get(`${url}/plain`);
    await get(`${url}/tagged`);
    nowMs += 2_000;
    await get(`${url}/plain`);
    await get(`${url}/tagged`);
    expect(seen[2]!['if-none-match']).toBeUndefined();
    expect(seen[3]!['if-none-match']).toBe('"t"');
    nowMs += STALE_KEEP_MS + 2_000;
    await get(`${url}/tagged`);
    expect(seen[4]!['if-none-match']).toBeUndefined();
  });
});

/** A page fresh for 10 s with `extra` Cache-Control directives, its body and ETag from `version`; then `failure` once set. */
function pageApp(version: { n: number }, extra: string, failure: { mode?: '503' | 'drop' | 'hang' } = {}): typeof answer {
  return (req, res) => {
    if (failure.mode === '503') {
      res.writeHead(503, { 'Content-Type': 'text/plain' });
      res.end('down for maintenance');
      return;
    }
    if (failure.mode === 'drop') {
      req.socket.destroy();
      return;
    }
    if (failure.mode === 'hang') return;
    const etag = `"v${version.n}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ETag: etag });
      res.end();
      return;
    }
    res.writeHead(200, { ETag: etag, 'Cache-Control': `max-age=10${extra}` });
    res.end(`page ${version.n}`);
  };
}

describe('stale-while-revalidate', () => {
  it('answers with the stale page at once and refreshes it behind the client, once', async () => {
    const { url, cache } = await proxy();
    const version = { n: 1 };
    answer = pageApp(version, ', stale-while-revalidate=30');
    await get(`${url}/page`);
    nowMs += 15_000;
    version.n = 2;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const changed = answer;
    answer = (req, res) => void held.then(() => changed(req, res));
    // The app is holding the refresh: the clients are answered anyway, from the stale page.
    const stale = await Promise.all([get(`${url}/page`), get(`${url}/page`)]);
    expect(stale.map((a) => [a.status, a.cache, a.body])).toEqual([[200, 'stale (revalidating)', 'page 1'], [200, 'stale (revalidating)', 'page 1']]);
    await expect.poll(() => seen.length).toBe(2);
    expect(seen[1]!['if-none-match']).toBe('"v1"');
    release();
    await expect.poll(() => cache.inspect().stores).toBe(2);
    expect(await get(`${url}/page`)).toMatchObject({ cache: 'hit', body: 'page 2' });
    expect(seen).toHaveLength(2);
    expect(cache.inspect()).toMatchObject({ staleWhileRevalidate: 2 });
  });

  it('goes to the app as usual once the window has passed, or when the page says must-revalidate', async () => {
    const { url } = await proxy();
    const version = { n: 1 };
    answer = pageApp(version, ', stale-while-revalidate=30');
    await get(`${url}/late`);
    nowMs += 45_000;
    expect(await get(`${url}/late`)).toMatchObject({ cache: 'revalidated', body: 'page 1' });
    answer = pageApp(version, ', stale-while-revalidate=30, must-revalidate');
    await get(`${url}/strict`);
    nowMs += 15_000;
    expect(await get(`${url}/strict`)).toMatchObject({ cache: 'revalidated' });
  });
});

describe('stale-if-error', () => {
  it('answers with the stale page when the app answers 503, drops the connection, or takes too long', async () => {
    const { url, cache } = await proxy({ maxRequestTimeMs: 300 });
    const version = { n: 1 };
    const failure: { mode?: '503' | 'drop' | 'hang' } = {};
    answer = pageApp(version, ', stale-if-error=60', failure);
    await get(`${url}/page`);
    nowMs += 15_000;
    for (const mode of ['503', 'drop', 'hang'] as const) {
      failure.mode = mode;
      expect(await get(`${url}/page`), mode).toMatchObject({ status: 200, cache: 'stale (error)', body: 'page 1' });
    }
    expect(cache.inspect().staleOnError).toBe(3);
    // Past the window: the error as it is.
    nowMs += 60_000;
    failure.mode = '503';
    expect(await get(`${url}/page`)).toMatchObject({ status: 503, body: 'down for maintenance' });
  });

  it('with --turbocache-serve-stale-on-error, for pages that do not say stale-if-error, but never for must-revalidate or an invalidated page', async () => {
    const failure: { mode?: '503' | 'drop' | 'hang' } = {};
    const version = { n: 1 };
    const plain = await proxy();
    answer = pageApp(version, '', failure);
    await get(`${plain.url}/page`);
    nowMs += 15_000;
    failure.mode = '503';
    expect((await get(`${plain.url}/page`)).status).toBe(503);
    await proxies.stopAll();

    const { url } = await proxy({ staleOnErrorMs: 300_000 });
    failure.mode = undefined;
    await get(`${url}/page`);
    answer = pageApp(version, ', must-revalidate', failure);
    await get(`${url}/strict`);
    answer = pageApp(version, '', failure);
    await get(`${url}/changed`);
    nowMs += 15_000;
    failure.mode = '503';
    expect(await get(`${url}/page`)).toMatchObject({ status: 200, cache: 'stale (error)', body: 'page 1' });
    expect((await get(`${url}/strict`)).status).toBe(503);
    // A POST that succeeds drops the URL's entries: nothing stale of it is kept to stand in.
    failure.mode = undefined;
    expect((await fetch(`${url}/changed`, { method: 'POST' })).status).toBe(200);
    failure.mode = '503';
    expect((await get(`${url}/changed`)).status).toBe(503);
  });
});
