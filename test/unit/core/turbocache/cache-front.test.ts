// CacheFront's request collapsing, over a real HTTP server on port 0 (node:http, the test's own
// client of the cache) whose "app" is a gate the test opens: while one request refills an entry
// that expired, the others for it wait instead of stampeding. A clock of the test's own makes
// entries expire.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { requestOrigin, type RequestOrigin } from '../../../../src/core/proxy/authority.js';
import { CacheFront, freshenedHeaders, type CacheClient, type CacheTransaction } from '../../../../src/core/turbocache/cache-front.js';
import { Turbocache } from '../../../../src/core/turbocache/turbocache.js';

interface Harness {
  url: string;
  front: CacheFront;
  appCalls: () => number;
  /** Requests the front has taken so far (held ones included). */
  received: () => number;
  /** Moves the cache's clock on. */
  advance(ms: number): void;
  /** Lets every request held at the app answer, with these headers. */
  open(headers: string[]): void;
  /** Holds the requests that reach the app from now on. */
  shut(): void;
  close(): Promise<void>;
}

let harness: Harness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** The request's origin as the proxy's door gives it to the cache. */
function originOf(req: http.IncomingMessage): RequestOrigin {
  const verdict = requestOrigin({ method: req.method ?? 'GET', target: req.url ?? '/', httpVersion: req.httpVersion, rawHeaders: req.rawHeaders, trustForwarded: false });
  if (!verdict.ok) throw new Error(verdict.reason);
  return verdict.origin;
}

/** Where the cache's hits go: the test server's response. */
function clientOf(res: http.ServerResponse): CacheClient {
  return {
    get gone() {
      return res.destroyed;
    },
    onClose: (listener) => void res.once('close', listener),
    answer: (hit) => {
      res.writeHead(hit.status, hit.headers);
      res.end(hit.body);
    },
    // No background refreshes here (no stale-while-revalidate answers): whoever waits is told.
    refresh: (tx) => tx.settle('not-stored'),
    notCached: () => {
      res.writeHead(504);
      res.end();
    },
  };
}

async function start(): Promise<Harness> {
  let nowMs = Date.now();
  const front = new CacheFront(new Turbocache({ maxBytes: 1_000_000, maxEntryBytes: 100_000 }), { debugHeader: true, now: () => nowMs });
  let calls = 0;
  let received = 0;
  let release: ((headers: string[]) => void) | undefined;
  let gate = new Promise<string[]>((resolve) => (release = resolve));
  const close = (): void => {
    gate = new Promise<string[]>((resolve) => (release = resolve));
  };
  const answer = (res: http.ServerResponse, tx: CacheTransaction): void => {
    calls++;
    const n = calls;
    void gate.then((headers) => {
      if (res.destroyed) return;
      const body = Buffer.from(`render ${n}`);
      const status = tx.onHeaders(200, 'OK', headers);
      res.writeHead(200, [...headers, 'X-Ferry-Cache', status ?? '']);
      tx.onData(body);
      tx.onComplete();
      res.end(body);
    });
  };
  const server = http.createServer((req, res) => {
    received++;
    const begun = front.begin({ method: req.method ?? 'GET', headers: req.headers, origin: originOf(req) }, clientOf(res));
    if (begun instanceof Promise) void begun.then((tx) => tx && answer(res, tx));
    else if (begun) answer(res, begun);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    front,
    appCalls: () => calls,
    received: () => received,
    advance(ms) {
      nowMs += ms;
    },
    open(headers) {
      release?.(headers);
      gate = Promise.resolve(headers);
    },
    shut: close,
    async close() {
      front.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const get = async (url: string): Promise<{ body: string; cache: string }> => {
  const res = await request(url);
  return { body: await res.body.text(), cache: String(res.headers['x-ferry-cache']) };
};

const settle = (ms = 100): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `done` holds (10 s at most): a loaded machine delivers requests late, never wrongly. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await settle(10);
  }
}

/**
 * Waits until the front has taken `count` requests in all, then a little more, so that what the
 * test expects next is about the front's decisions, not about how fast the requests came in.
 */
async function arrived(h: Harness, count: number): Promise<void> {
  await until(() => h.received() >= count, `${count} requests to arrive`);
  await settle(50);
}

const PUBLIC = ['Cache-Control', 'public, max-age=60'];

/** Stores an entry for the path, then lets it expire, and holds the app again: a refill is next. */
async function expiredEntry(h: Harness, path: string): Promise<void> {
  h.open(PUBLIC);
  await get(`${h.url}${path}`);
  h.advance(61_000);
  h.shut();
}

describe('CacheFront request collapsing', () => {
  it('sends one request for an expired entry to the app while the others wait, then answers them all from the new entry', async () => {
    harness = await start();
    await expiredEntry(harness, '/page');
    const answers = Promise.all(Array.from({ length: 10 }, () => get(`${harness!.url}/page`)));
    await arrived(harness, 11);
    expect(harness.appCalls()).toBe(2);
    harness.open(PUBLIC);
    const results = await answers;
    expect(results.map((r) => r.body)).toEqual(Array(10).fill('render 2'));
    expect(results.filter((r) => r.cache === 'hit')).toHaveLength(9);
    expect(harness.front.cache.inspect()).toMatchObject({ collapsed: 9, stores: 2, entries: 1 });
  });

  it('sends the first requests for a URL never stored to the app side by side, as if there were no cache', async () => {
    harness = await start();
    const answers = Promise.all(Array.from({ length: 5 }, () => get(`${harness!.url}/new`)));
    await arrived(harness, 5);
    expect(harness.appCalls()).toBe(5);
    harness.open(PUBLIC);
    expect(new Set((await answers).map((r) => r.body)).size).toBe(5);
    expect(harness.front.cache.inspect().collapsed).toBe(0);
  });

  it('sends the waiting requests to the app, each on its own, when the answer may not be stored, and collapses no more', async () => {
    harness = await start();
    await expiredEntry(harness, '/personal');
    const answers = Promise.all(Array.from({ length: 5 }, () => get(`${harness!.url}/personal`)));
    await arrived(harness, 6);
    expect(harness.appCalls()).toBe(2);
    harness.open([...PUBLIC, 'Set-Cookie', 'session=1']);
    const results = await answers;
    expect(harness.appCalls()).toBe(6);
    expect(new Set(results.map((r) => r.body)).size).toBe(5);
    expect(results.every((r) => r.cache === 'miss (set-cookie)')).toBe(true);
    // The URL turned personal: its next misses go to the app side by side.
    harness.shut();
    const next = Promise.all(Array.from({ length: 3 }, () => get(`${harness!.url}/personal`)));
    await arrived(harness, 9);
    expect(harness.appCalls()).toBe(9);
    harness.open(PUBLIC);
    await next;
  });

  it('does not hold a request for another entry', async () => {
    harness = await start();
    await expiredEntry(harness, '/a');
    const held = get(`${harness.url}/a`);
    await arrived(harness, 2);
    const other = get(`${harness.url}/b`);
    await arrived(harness, 3);
    expect(harness.appCalls()).toBe(3);
    harness.open(PUBLIC);
    expect((await held).body).not.toBe((await other).body);
  });

  it('lets the waiting requests go to the app when the filling client goes away', async () => {
    harness = await start();
    await expiredEntry(harness, '/gone');
    const controller = new AbortController();
    const filler = request(`${harness.url}/gone`, { signal: controller.signal }).catch(() => undefined);
    await arrived(harness, 2);
    const waiter = get(`${harness.url}/gone`);
    await arrived(harness, 3);
    expect(harness.appCalls()).toBe(2);
    controller.abort();
    await filler;
    await until(() => harness!.appCalls() >= 3, 'the waiting request to go to the app');
    await settle(50);
    expect(harness.appCalls()).toBe(3);
    harness.open(PUBLIC);
    expect((await waiter).body).toBe('render 3');
  });
});

describe('freshenedHeaders (RFC 9111 §4.3.4)', () => {
  it("replaces the stored fields the 304 names, keeps the others, and never takes the 304's framing", () => {
    const stored = ['Content-Type', 'text/html', 'ETag', '"1"', 'Cache-Control', 'max-age=60', 'Date', 'Mon, 30 Nov 2026 10:00:00 GMT', 'Link', '</a>', 'Link', '</b>'];
    const notModified = ['ETag', '"1"', 'Date', 'Tue, 01 Dec 2026 10:00:00 GMT', 'Content-Length', '0', 'Link', '</c>', 'Age', '5'];
    expect(freshenedHeaders(stored, notModified)).toEqual([
      'Content-Type', 'text/html', 'Cache-Control', 'max-age=60',
      'ETag', '"1"', 'Date', 'Tue, 01 Dec 2026 10:00:00 GMT', 'Link', '</c>',
    ]);
  });
});

describe('CacheFront hits', () => {
  const NOW = Date.parse('2026-11-23T10:00:00Z');
  const LAST_MODIFIED = 'Mon, 23 Nov 2026 09:00:00 GMT';

  /** A front whose cache holds one fresh entry for http://a/x, with these status and fields. */
  function frontWith(status: number, headers: string[], body = ''): CacheFront {
    const front = new CacheFront(new Turbocache({ maxBytes: 1_000_000, maxEntryBytes: 100_000 }), { debugHeader: false, now: () => NOW });
    const entry = { key: 'http://a/x', url: 'http://a/x', status, statusText: '', headers, body: Buffer.from(body), responseTimeMs: NOW, initialAgeMs: 0, lifetimeMs: 60_000, size: 0 };
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i] === 'ETag') Object.assign(entry, { etag: headers[i + 1] });
      if (headers[i] === 'Last-Modified') Object.assign(entry, { lastModified: headers[i + 1] });
    }
    front.cache.store(entry);
    return front;
  }

  /** What the front answers a request for http://a/x with these fields, from the cache (or undefined: to the app). */
  function hitFor(front: CacheFront, fields: string[] = [], method = 'GET'): { status: number; headers: string[] } | undefined {
    const rawHeaders = ['Host', 'a', ...fields];
    const verdict = requestOrigin({ method, target: '/x', httpVersion: '1.1', rawHeaders, trustForwarded: false });
    if (!verdict.ok) throw new Error(verdict.reason);
    const headers: http.IncomingHttpHeaders = {};
    for (let i = 0; i < rawHeaders.length; i += 2) headers[(rawHeaders[i] as string).toLowerCase()] = rawHeaders[i + 1];
    let hit: { status: number; headers: string[] } | undefined;
    const client: CacheClient = {
      gone: false,
      onClose: () => undefined,
      answer: (h) => void (hit = { status: h.status, headers: h.headers }),
      notCached: (lookedUp, cacheStatus) => void (hit = { status: 504, headers: [lookedUp ? 'looked-up' : 'bypassed', cacheStatus ?? ''] }),
      refresh: (tx) => tx.settle('not-stored'),
    };
    const begun = front.begin({ method, headers, origin: verdict.origin }, client);
    front.close();
    if (begun instanceof Promise) throw new Error('waited');
    return begun === undefined ? hit : undefined;
  }

  const names = (hit: { headers: string[] } | undefined): string[] => (hit?.headers ?? []).filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());

  it('gives a 204 hit no Content-Length (RFC 9110 §8.6), a 200 hit its length', () => {
    expect(names(hitFor(frontWith(204, ['Cache-Control', 'max-age=60'])))).not.toContain('content-length');
    expect(hitFor(frontWith(200, ['Cache-Control', 'max-age=60'], 'hi'))?.headers).toEqual(['Cache-Control', 'max-age=60', 'Content-Length', '2', 'Age', '0']);
  });

  it('answers If-Modified-Since with 304 from an entry with Last-Modified, unless If-None-Match is there', () => {
    const headers = ['Cache-Control', 'max-age=60', 'ETag', '"v1"', 'Last-Modified', LAST_MODIFIED];
    expect(hitFor(frontWith(200, headers, 'hi'), ['If-Modified-Since', LAST_MODIFIED])?.status).toBe(304);
    expect(hitFor(frontWith(200, headers, 'hi'), ['If-Modified-Since', LAST_MODIFIED], 'HEAD')?.status).toBe(304);
    expect(hitFor(frontWith(200, headers, 'hi'), ['If-Modified-Since', 'Mon, 23 Nov 2026 08:00:00 GMT'])?.status).toBe(200);
    expect(hitFor(frontWith(200, headers, 'hi'), ['If-Modified-Since', LAST_MODIFIED, 'If-None-Match', '"v0"'])?.status).toBe(200);
  });

  it('answers min-fresh only from an entry that stays fresh that long', () => {
    const front = (): CacheFront => frontWith(200, ['Cache-Control', 'max-age=60'], 'hi');
    expect(hitFor(front(), ['Cache-Control', 'min-fresh=59'])?.status).toBe(200);
    expect(hitFor(front(), ['Cache-Control', 'min-fresh=60'])).toBeUndefined();
  });

  it('answers only-if-cached from the cache, or 504 without a transaction for the app (RFC 9111 §5.2.1.7)', () => {
    expect(hitFor(frontWith(200, ['Cache-Control', 'max-age=60'], 'hi'), ['Cache-Control', 'only-if-cached'])?.status).toBe(200);
    expect(hitFor(frontWith(200, ['Cache-Control', 'max-age=60'], 'hi'), ['Cache-Control', 'only-if-cached, min-fresh=120'])).toEqual({ status: 504, headers: ['looked-up', ''] });
    expect(hitFor(frontWith(200, ['Cache-Control', 'max-age=60'], 'hi'), ['Cache-Control', 'only-if-cached', 'Authorization', 'Bearer x'])).toEqual({ status: 504, headers: ['bypassed', ''] });
    expect(hitFor(frontWith(200, ['Cache-Control', 'max-age=60'], 'hi'), ['Cache-Control', 'only-if-cached'], 'POST')).toEqual({ status: 504, headers: ['bypassed', ''] });
  });

  it('gives a 304 built from an entry no Content-Length', () => {
    const hit = hitFor(frontWith(200, ['Cache-Control', 'max-age=60', 'ETag', '"v1"'], 'hi'), ['If-None-Match', '"v1"']);
    expect(hit?.status).toBe(304);
    expect(names(hit)).not.toContain('content-length');
  });
});
