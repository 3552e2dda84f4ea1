// The stage proxy (src/core/proxy/stages) in process: the front harness on 127.0.0.1:0, a real
// Pool and AppGroup over the FakeSpawner, whose processes "listen" on an in-process node:http app
// on a unix socket. Real sockets both sides, milliseconds per test.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StageContext } from '../../../../../src/core/proxy/stages/context.js';
import { CacheFront } from '../../../../../src/core/turbocache/cache-front.js';
import { Turbocache } from '../../../../../src/core/turbocache/turbocache.js';
import { type PoolLimits } from '../../../../../src/lib/config.js';
import { connectClient } from '../../../../helpers/front-harness.js';
import { StageProxies, stopAppServer } from '../../../../helpers/stage-proxy.js';

let dir: string;
let appSocket: string;
let app: http.Server;
/** Requests the app saw, by path. */
const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
let renders = 0;
/** Answers a test gives a path: its status (200) and fields, and `render N` as the body (none for 204). */
const scripted = new Map<string, { status?: number; headers: Record<string, string> }>();

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-stages-'));
  appSocket = path.join(dir, 'app.sock');
  app = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('latin1');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const script = scripted.get(req.url ?? '');
      if (script) {
        renders++;
        res.writeHead(script.status ?? 200, script.headers);
        res.end(script.status === 204 ? undefined : `render ${renders}`);
      } else if (req.url === '/cached') {
        renders++;
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'public, max-age=60' });
        res.end(`render ${renders}`);
      } else if (req.url === '/chunked') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('one,');
        setTimeout(() => res.end('two'), 5);
      } else if (req.url === '/big') {
        res.writeHead(200, { 'Content-Length': String(8 * 1024 * 1024) });
        res.end(Buffer.alloc(8 * 1024 * 1024, 0x61));
      } else if (req.url === '/slow') {
        // never answers: max-request-time
      } else {
        res.writeHead(200, { 'Content-Type': 'text/plain', Connection: 'keep-alive' });
        res.end(`${req.method} ${req.url} ${body.length}:${body.slice(0, 40)}`);
      }
    });
  });
  await new Promise<void>((resolve) => app.listen(appSocket, resolve));
});

afterAll(async () => {
  await stopAppServer(app, dir);
});

const proxies = new StageProxies(() => appSocket);
const { spawner } = proxies;
const logLines: string[] = [];

afterEach(async () => {
  await proxies.stopAll();
  seen.length = 0;
  scripted.clear();
});

interface Setup {
  limits?: Partial<PoolLimits>;
  cache?: boolean;
  sticky?: boolean;
}

async function proxy(setup: Setup = {}): Promise<{ url: string; port: number; ctx: StageContext }> {
  return proxies.start({
    app: { stickySessions: setup.sticky === true, limits: setup.limits },
    config: { logLevel: 'debug' },
    context: () => ({ cache: setup.cache ? new CacheFront(new Turbocache({ maxBytes: 1_000_000, maxEntryBytes: 100_000 }), { debugHeader: true }) : undefined }),
    logLines,
  });
}

describe('stage proxy: forwarding', () => {
  it('forwards a GET with the forwarded headers and answers with the app body; tracked and counted', async () => {
    const { port, ctx } = await proxy();
    const client = await connectClient(port);
    client.write('GET /hello?x=1 HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: keep-alive, X-Secret\r\nX-Secret: hop\r\n\r\n');
    await client.until((c) => c.received.endsWith('0\r\n\r\n'), 'the chunked answer');
    expect(client.received).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n11\r\nGET \/hello\?x=1 0:\r\n0\r\n\r\n$/);
    const got = seen[0]!;
    expect(got.headers.host).toBe('x');
    expect(got.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(got.headers['x-real-ip']).toBe('127.0.0.1');
    expect(got.headers['x-forwarded-proto']).toBe('http');
    expect(got.headers['x-request-id']).toMatch(/^[0-9a-f]{6}-/);
    expect(got.headers['x-secret']).toBeUndefined();
    await vi.waitFor(() => expect(ctx.tracker.inFlight).toBe(0));
    expect(ctx.tracker.requestsTotal).toBe(1);
    expect(ctx.pool.groups[0]!.stats.responses.byClass[1]).toBe(1);
  });

  it('lists a request in flight for ferry status while the app works on it', async () => {
    const { url, ctx } = await proxy({ limits: { maxRequestTimeMs: 300 } });
    const pending = fetch(`${url}/slow`);
    await vi.waitFor(() => expect(ctx.tracker.inspect().map((r) => [r.path, r.state])).toEqual([['/slow', 'forwarding']]));
    expect((await pending).status).toBe(504);
    await vi.waitFor(() => expect(ctx.tracker.inFlight).toBe(0));
  });

  it('streams a Content-Length POST body and a chunked one to the app', async () => {
    const { url } = await proxy();
    const a = await fetch(`${url}/echo`, { method: 'POST', body: 'x'.repeat(100_000) });
    expect(await a.text()).toBe(`POST /echo 100000:${'x'.repeat(40)}`);
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('abc'));
        setTimeout(() => {
          controller.enqueue(new TextEncoder().encode('def'));
          controller.close();
        }, 10);
      },
    });
    const b = await fetch(`${url}/echo`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(await b.text()).toBe('POST /echo 6:abcdef');
    expect(seen[1]!.headers['transfer-encoding']).toBe('chunked');
  });

  it('keeps the client connection alive across requests, HEAD without a body, chunked answers re-framed', async () => {
    const { port } = await proxy();
    const client = await connectClient(port);
    client.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGET /chunked HTTP/1.1\r\nHost: x\r\n\r\n');
    await client.until((c) => c.received.includes('two\r\n0\r\n\r\n'), 'three answers');
    expect(client.closed).toBe(false);
    const text = client.received;
    expect(text).toContain('GET /a 0:');
    expect(text.match(/HTTP\/1\.1 200/g)).toHaveLength(3);
    expect(text).toContain('Transfer-Encoding: chunked');
    expect(text).not.toContain('HEAD /b');
  });

  it('streams a large answer with backpressure, whole', async () => {
    const { url } = await proxy();
    const res = await fetch(`${url}/big`);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(8 * 1024 * 1024);
    expect(body.every((b) => b === 0x61)).toBe(true);
  });
});

describe('stage proxy: door and errors', () => {
  it('refuses a reserved path with 404 and closes the connection; a request without Host with 400', async () => {
    const { port, ctx } = await proxy();
    const client = await connectClient(port);
    client.write('POST /ferry/oob-work HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    await client.waitClosed();
    expect(client.received).toMatch(/^HTTP\/1\.1 404 Not Found\r\n[\s\S]*Connection: close\r\n[\s\S]*Request id: /);
    expect(seen).toHaveLength(0);
    const other = await connectClient(port);
    other.write('GET / HTTP/1.1\r\n\r\n');
    await other.waitClosed();
    // The front's own refusal (the engine's parser), before any stage: counted as the door's.
    expect(other.received).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Host/);
    expect(ctx.tracker.unrouted.byClass[3]).toBe(2);
  });

  it('answers 502 with a request id when the app process fails, after retrying refused connections elsewhere', async () => {
    // Every process the pool starts refuses: three tries, then 502.
    spawner.addressFor = (a, pid) => ({ socketPath: path.join(dir, `nobody.${pid}.sock`) });
    const { url } = await proxy();
    const res = await fetch(`${url}/x`);
    expect(res.status).toBe(502);
    expect(res.headers.get('x-request-id')).toMatch(/-/);
    expect(await res.text()).toContain('The application process failed');
    expect(logLines.filter((l) => l.includes('retrying the request on another process')).length).toBe(2);
  });

  it('sends a request to another process when the first refuses the connection', async () => {
    let first = true;
    spawner.addressFor = (a, pid) => {
      const socketPath = first ? path.join(dir, `gone.${pid}.sock`) : appSocket;
      first = false;
      return { socketPath };
    };
    const { url } = await proxy();
    const res = await fetch(`${url}/retry`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('GET /retry 0:');
  });

  it('answers 504 when the app passes max-request-time, and replaces the process', async () => {
    const { url, ctx } = await proxy({ limits: { maxRequestTimeMs: 200 } });
    const started = Date.now();
    const res = await fetch(`${url}/slow`);
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await res.text()).toContain('took too long');
    await vi.waitFor(() => expect(ctx.tracker.failed['504']).toBe(1));
  });
});

describe('stage proxy: a client that goes', () => {
  it('stops the app request, frees the session and ends the tracked request when the client leaves mid-request', async () => {
    const { port, ctx } = await proxy();
    const client = await connectClient(port);
    client.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await vi.waitFor(() => expect(ctx.tracker.inFlight).toBe(1));
    const worker = ctx.pool.groups[0]!.workers[0]!;
    expect(worker.sessions).toBe(1);
    client.close();
    await vi.waitFor(() => expect(ctx.tracker.inFlight).toBe(0));
    expect(worker.sessions).toBe(0);
    await vi.waitFor(() => expect(worker.upstream.connectionCounts.busy).toBe(0));
  });

  it('answers a POST whose client sends only part of its body with nothing, and frees its session', async () => {
    const { port, ctx } = await proxy();
    const client = await connectClient(port);
    client.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    await vi.waitFor(() => expect(ctx.pool.groups[0]!.workers[0]!.sessions).toBe(1));
    client.close();
    await vi.waitFor(() => expect(ctx.pool.groups[0]!.workers[0]!.sessions).toBe(0));
    expect(ctx.tracker.inFlight).toBe(0);
  });
});

describe('stage proxy: turbocache', () => {
  it('stores a public answer and serves the next request from the cache in one write, with Age', async () => {
    const { url } = await proxy({ cache: true });
    const before = renders;
    const a = await fetch(`${url}/cached`);
    expect(a.headers.get('x-ferry-cache')).toBe('miss');
    const first = await a.text();
    const b = await fetch(`${url}/cached`);
    expect(b.headers.get('x-ferry-cache')).toBe('hit');
    expect(b.headers.get('age')).toBe('0');
    expect(await b.text()).toBe(first);
    expect(renders).toBe(before + 1);
  });

  it('does not share an answer whose CDN-Cache-Control says private, though its Cache-Control says public (RFC 9213)', async () => {
    scripted.set('/cdn-private', { headers: { 'Cache-Control': 'public, max-age=60', 'CDN-Cache-Control': 'private' } });
    const { url } = await proxy({ cache: true });
    const alice = await fetch(`${url}/cdn-private`, { headers: { cookie: 'user=alice' } });
    expect(alice.headers.get('x-ferry-cache')).toBe('miss (private)');
    const alicePage = await alice.text();
    const bob = await fetch(`${url}/cdn-private`);
    expect(bob.headers.get('x-ferry-cache')).toBe('miss (private)');
    expect(await bob.text()).not.toBe(alicePage);
    // For the CDN in front of Ferry, untouched.
    expect(bob.headers.get('cdn-cache-control')).toBe('private');
  });

  it('obeys Ferry-Cache-Control over Cache-Control, and keeps it from the client and from the entry; CDN-Cache-Control reaches the client', async () => {
    scripted.set('/ferry-cc', { headers: { 'Cache-Control': 'no-store', 'Ferry-Cache-Control': 'max-age=60', 'CDN-Cache-Control': 'max-age=30' } });
    const { url } = await proxy({ cache: true });
    const a = await fetch(`${url}/ferry-cc`);
    const b = await fetch(`${url}/ferry-cc`);
    expect([a.headers.get('x-ferry-cache'), b.headers.get('x-ferry-cache')]).toEqual(['miss', 'hit']);
    expect(await b.text()).toBe(await a.text());
    for (const res of [a, b]) {
      expect(res.headers.get('ferry-cache-control')).toBeNull();
      expect(res.headers.get('cdn-cache-control')).toBe('max-age=30');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('sends a 204 hit without Content-Length, as the app sent the miss', async () => {
    scripted.set('/no-content', { status: 204, headers: { 'Cache-Control': 'max-age=60' } });
    const { port } = await proxy({ cache: true });
    const client = await connectClient(port);
    client.write('GET /no-content HTTP/1.1\r\nHost: x\r\n\r\n');
    await client.until((c) => c.received.includes('\r\n\r\n'), 'the miss');
    client.write('GET /no-content HTTP/1.1\r\nHost: x\r\n\r\n');
    await client.until((c) => /X-Ferry-Cache: hit\r\n([^\r\n]+\r\n)*\r\n$/.test(c.received), 'the hit');
    const [miss, hit] = client.received.split(/(?=HTTP\/1\.1 )/);
    expect(miss).toMatch(/^HTTP\/1\.1 204 [\s\S]*X-Ferry-Cache: miss\r\n/);
    expect(hit).toMatch(/^HTTP\/1\.1 204 No Content\r\n/);
    expect(client.received).not.toMatch(/content-length|transfer-encoding/i);
  });

  it('answers If-Modified-Since from an entry with Last-Modified with 304, without the app', async () => {
    scripted.set('/dated', { headers: { 'Cache-Control': 'max-age=60', 'Last-Modified': 'Mon, 02 Nov 2026 10:00:00 GMT' } });
    const { url } = await proxy({ cache: true });
    expect((await fetch(`${url}/dated`)).headers.get('x-ferry-cache')).toBe('miss');
    // undici's request, not fetch: fetch adds Cache-Control: no-cache to a conditional request.
    const since = await request(`${url}/dated`, { headers: { 'if-modified-since': 'Tue, 03 Nov 2026 10:00:00 GMT' } });
    await since.body.dump();
    expect(since.statusCode).toBe(304);
    expect(since.headers['x-ferry-cache']).toBe('hit');
    expect(since.headers['last-modified']).toBe('Mon, 02 Nov 2026 10:00:00 GMT');
    const older = await request(`${url}/dated`, { headers: { 'if-modified-since': 'Sun, 01 Nov 2026 10:00:00 GMT' } });
    expect(older.statusCode).toBe(200);
    expect(await older.body.text()).toMatch(/^render /);
    expect(seen.filter((r) => r.url === '/dated')).toHaveLength(1);
  });

  it('does not share an answer that sets a cookie with Set-Cookie2', async () => {
    scripted.set('/cookie2', { headers: { 'Cache-Control': 'public, max-age=60', 'Set-Cookie2': 'session=alice; Version=1' } });
    const { url } = await proxy({ cache: true });
    const alice = await fetch(`${url}/cookie2`);
    const bob = await fetch(`${url}/cookie2`);
    expect([alice.headers.get('x-ferry-cache'), bob.headers.get('x-ferry-cache')]).toEqual(['miss (set-cookie)', 'miss (set-cookie)']);
    expect(seen.filter((r) => r.url === '/cookie2')).toHaveLength(2);
  });

  it('does not store an answer whose max-age has a space before "=", and ignores an Age that is no delta-seconds', async () => {
    scripted.set('/spaced', { headers: { 'Cache-Control': 'max-age =3600' } });
    scripted.set('/odd-age', { headers: { 'Cache-Control': 'max-age=3600', Age: '7200;foo=bar' } });
    const { url } = await proxy({ cache: true });
    expect((await fetch(`${url}/spaced`)).headers.get('x-ferry-cache')).toBe('miss (invalid-freshness)');
    expect((await fetch(`${url}/spaced`)).headers.get('x-ferry-cache')).toBe('miss (invalid-freshness)');
    expect((await fetch(`${url}/odd-age`)).headers.get('x-ferry-cache')).toBe('miss');
    const hit = await fetch(`${url}/odd-age`);
    expect([hit.headers.get('x-ferry-cache'), hit.headers.get('age')]).toEqual(['hit', '0']);
  });

  it('answers only-if-cached with 504 when nothing is stored, and the app sees nothing; from the cache once stored', async () => {
    const { url, ctx } = await proxy({ cache: true });
    const empty = await fetch(`${url}/cached`, { headers: { 'cache-control': 'only-if-cached' } });
    expect(empty.status).toBe(504);
    expect(empty.headers.get('x-ferry-cache')).toBe('miss (only-if-cached)');
    expect(await empty.text()).toContain('only-if-cached');
    expect(seen).toHaveLength(0);
    await fetch(`${url}/cached`);
    const stored = await fetch(`${url}/cached`, { headers: { 'cache-control': 'only-if-cached' } });
    expect([stored.status, stored.headers.get('x-ferry-cache')]).toEqual([200, 'hit']);
    expect(seen).toHaveLength(1);
    await vi.waitFor(() => expect(ctx.tracker.inFlight).toBe(0));
  });

  it('sends a request whose min-fresh the entry cannot meet to the app', async () => {
    const { url } = await proxy({ cache: true });
    await fetch(`${url}/cached`);
    expect((await fetch(`${url}/cached`, { headers: { 'cache-control': 'min-fresh=30' } })).headers.get('x-ferry-cache')).toBe('hit');
    expect((await fetch(`${url}/cached`, { headers: { 'cache-control': 'min-fresh=120' } })).headers.get('x-ferry-cache')).toBe('miss');
    expect(seen).toHaveLength(2);
  });

  it('stores a redirect with explicit freshness, and never a 503 however fresh', async () => {
    scripted.set('/moved', { status: 302, headers: { 'Cache-Control': 'max-age=60', Location: '/elsewhere' } });
    scripted.set('/down', { status: 503, headers: { 'Cache-Control': 'max-age=60' } });
    const { url } = await proxy({ cache: true });
    const first = await fetch(`${url}/moved`, { redirect: 'manual' });
    const second = await fetch(`${url}/moved`, { redirect: 'manual' });
    expect([first.status, first.headers.get('x-ferry-cache'), second.status, second.headers.get('x-ferry-cache')]).toEqual([302, 'miss', 302, 'hit']);
    expect(second.headers.get('location')).toBe('/elsewhere');
    expect((await fetch(`${url}/down`)).headers.get('x-ferry-cache')).toBe('miss (status)');
    expect((await fetch(`${url}/down`)).headers.get('x-ferry-cache')).toBe('miss (status)');
    expect(seen.map((r) => r.url)).toEqual(['/moved', '/down', '/down']);
  });

  it('stores an answer whose Expires is an RFC 850 date with a two-digit year (60: 2060, not 1960)', async () => {
    scripted.set('/old-expires', { headers: { Expires: 'Thursday, 01-Jan-60 00:00:00 GMT' } });
    const { url } = await proxy({ cache: true });
    expect((await fetch(`${url}/old-expires`)).headers.get('x-ferry-cache')).toBe('miss');
    expect((await fetch(`${url}/old-expires`)).headers.get('x-ferry-cache')).toBe('hit');
  });

  it('adds the sticky-session cookie to the app answer', async () => {
    const { url } = await proxy({ sticky: true });
    const res = await fetch(`${url}/s`);
    expect(res.headers.get('set-cookie')).toMatch(/^_ferry_route=\w+; Path=\/; HttpOnly; SameSite=Lax$/);
  });
});
