// The front's door, end to end with raw sockets (issue 16): which Host and request target it
// takes, what it keys the turbocache and routes on, which forwarded headers the app gets on TCP
// and behind a trusted front (--socket), what it refuses in framing and header count. Each case
// checks what the client got and what the app saw: mirror-app answers with the request it
// received, and lists every one it received at /__seen.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonLogLines, fixture, runFerry, startDaemon, tempDir, trackOnlyInstance, type LogLine, type TestInstance } from '../helpers/ferry.js';
import { parseRawResponse, rawExchange, type RawResponse } from '../helpers/raw-http.js';

/** What mirror-app received for one request. */
interface Seen {
  method: string;
  url: string;
  httpVersion: string;
  headers: Record<string, string | undefined>;
  fieldCount: number;
  body: string;
  render: number;
}

/** One raw request and the server's answer; `closed`: the server closed the connection (no deadline). */
async function exchange(to: number | string, text: string): Promise<RawResponse & { closed: boolean; responses: number }> {
  const ex = await rawExchange(to, (s) => s.write(Buffer.from(text, 'latin1')), 5_000);
  const response = parseRawResponse(ex.received);
  if (!response) throw new Error(`no HTTP response to ${JSON.stringify(text.slice(0, 80))}: ${JSON.stringify(ex.received.slice(0, 200))}`);
  return { ...response, closed: !ex.timedOut, responses: ex.received.match(/^HTTP\/1\.[01] \d{3} /gm)?.length ?? 0 };
}

/** GET with Connection: close, and what the app answered (it echoes the request it saw). */
async function get(to: number | string, target: string, headers = 'Host: x\r\n'): Promise<{ response: RawResponse; saw: Seen }> {
  const response = await exchange(to, `GET ${target} HTTP/1.1\r\n${headers}Connection: close\r\n\r\n`);
  expect(response.status, response.body).toBe(200);
  return { response, saw: JSON.parse(response.body) as Seen };
}

/** Every request that reached the app so far. */
async function appSaw(to: number | string): Promise<Seen[]> {
  return JSON.parse((await exchange(to, 'GET /__seen HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).body) as Seen[];
}

async function appSawUrlsMatching(to: number | string, pattern: RegExp): Promise<string[]> {
  return (await appSaw(to)).map((r) => r.url).filter((url) => pattern.test(url));
}

const APP_FAILED = /app process failed/;

/** Log lines that say the app failed, after the log has caught up with what was just sent. */
async function appFailureLines(lines: () => LogLine[]): Promise<LogLine[]> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  return lines().filter((l) => APP_FAILED.test(l.msg));
}

describe('the public front on TCP', () => {
  let instance: TestInstance;
  let port: number;

  beforeAll(async () => {
    instance = await startDaemon(fixture('mirror-app'), ['--vary-turbocache-by-cookie', 'user_id']);
    port = instance.port;
  });

  afterAll(async () => {
    const stop = await instance.stop();
    instance.forceCleanup();
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it('refuses a Host that is not host[:port] with 400, so GET /b with Host t/a cannot poison the entry of /a/b', async () => {
    const poison = await exchange(port, 'GET /poison-b HTTP/1.1\r\nHost: t/a\r\nConnection: close\r\n\r\n');
    expect(poison.status).toBe(400);
    expect(poison.headers['x-request-id']).toMatch(/^[0-9a-f]{6}-/);

    // The URL the bad Host pointed at gets its own answer, from the app.
    const victim = await get(port, '/a/poison-b', 'Host: t\r\n');
    expect(victim.saw.url).toBe('/a/poison-b');
    expect(victim.response.headers['x-ferry-cache']).toMatch(/^miss/);
    expect(await appSawUrlsMatching(port, /poison-b/)).toEqual(['/a/poison-b']);

    for (const host of ['t a', 'user@t', 't:x', 't:1:2', '[::1', '[v1.x]', 't:99999', 't?a', 't#a', 't\\a', '']) {
      const bad = await exchange(port, `GET /bad-host HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(bad.status, `Host: ${host}`).toBe(400);
    }
    expect(await appSawUrlsMatching(port, /bad-host/)).toEqual([]);
  });

  it('keys and forwards the parsed authority: lower-cased, default port dropped, so equal hosts share one entry', async () => {
    const first = await get(port, '/same-host', 'Host: Shop.EXAMPLE:80\r\n');
    expect(first.saw.headers.host).toBe('shop.example');
    expect(first.saw.headers['x-forwarded-host']).toBe('shop.example');
    const second = await get(port, '/same-host', 'Host: shop.example\r\n');
    expect(second.response.headers['x-ferry-cache']).toBe('hit');
    expect(second.saw.render).toBe(first.saw.render);
    // A port that is not the default is part of the host.
    const other = await get(port, '/same-host', 'Host: shop.example:8080\r\n');
    expect(other.saw.headers.host).toBe('shop.example:8080');
    expect(other.saw.render).not.toBe(first.saw.render);
    const ipv6 = await get(port, '/same-host', 'Host: [::1]:3000\r\n');
    expect(ipv6.saw.headers.host).toBe('[::1]:3000');
  });

  it('turns an absolute-form target into origin-form with its authority as Host (RFC 9112 §3.2.2)', async () => {
    const abs = await get(port, 'http://Abs.Example:80/abs-x?q=1', 'Host: other.example\r\n');
    expect(abs.saw.url).toBe('/abs-x?q=1');
    expect(abs.saw.headers.host).toBe('abs.example');
    expect(abs.saw.headers['x-forwarded-host']).toBe('abs.example');
    // The same resource asked for in origin-form is the same cache entry.
    const origin = await get(port, '/abs-x?q=1', 'Host: abs.example\r\n');
    expect(origin.response.headers['x-ferry-cache']).toBe('hit');
    expect(origin.saw.render).toBe(abs.saw.render);

    const withUserinfo = await exchange(port, 'GET http://user@abs.example/abs-userinfo HTTP/1.1\r\nHost: abs.example\r\nConnection: close\r\n\r\n');
    expect(withUserinfo.status).toBe(400);
    expect(await appSawUrlsMatching(port, /abs-userinfo/)).toEqual([]);
  });

  it('answers a duplicate Host with 400, without reaching the app or logging an app failure', async () => {
    const dup = await exchange(port, 'GET /dup-host HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n');
    expect(dup.status).toBe(400);
    expect(dup.headers['x-request-id']).toMatch(/^[0-9a-f]{6}-/);
    expect(await appSawUrlsMatching(port, /dup-host/)).toEqual([]);
    expect(await appFailureLines(() => daemonLogLines(instance))).toEqual([]);
  });

  it('answers an HTTP/1.1 request without Host with its own 400 and a request id; HTTP/1.0 may omit it', async () => {
    const missing = await exchange(port, 'GET /no-host HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(missing.status).toBe(400);
    expect(missing.headers['x-request-id']).toMatch(/^[0-9a-f]{6}-/);
    expect(await appSawUrlsMatching(port, /no-host/)).toEqual([]);

    const old = await exchange(port, 'GET /no-host-1.0 HTTP/1.0\r\n\r\n');
    expect(old.status).toBe(200);
    expect((JSON.parse(old.body) as Seen).url).toBe('/no-host-1.0');
  });

  it('does not let Connection: Cookie strip the cookie the cache key holds: alice gets her own page, not the anonymous one', async () => {
    const stripped = await get(port, '/cookie-page', 'Host: x\r\nCookie: user_id=alice\r\nConnection: Cookie\r\n');
    expect(stripped.saw.headers.cookie).toBe('user_id=alice');

    const alice = await get(port, '/cookie-page', 'Host: x\r\nCookie: user_id=alice\r\n');
    expect(alice.response.headers['x-ferry-cache']).toBe('hit');
    expect(alice.saw.headers.cookie).toBe('user_id=alice');
    const anonymous = await get(port, '/cookie-page');
    expect(anonymous.saw.headers.cookie).toBeUndefined();
    expect(anonymous.saw.render).not.toBe(alice.saw.render);

    // Nor Authorization (the cache never shares answers to it) or Host.
    const auth = await get(port, '/auth-page', 'Host: x\r\nAuthorization: Bearer alice-token\r\nConnection: Authorization, Host\r\n');
    expect(auth.saw.headers.authorization).toBe('Bearer alice-token');
    expect(auth.saw.headers.host).toBe('x');
  });

  it("gives the app Ferry's own X-Forwarded-*, X-Real-IP and X-Request-Id, never a client's, and no Forwarded or X-Ferry-* from it", async () => {
    const { saw } = await get(
      port,
      '/forged',
      'Host: x\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nForwarded: for=6.6.6.6;host=evil.example\r\n' +
        'X-Real-IP: 6.6.6.6\r\nX-Request-Id: forged-id\r\nX-Ferry-OOB-Work: 1\r\n',
    );
    expect(saw.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(saw.headers['x-forwarded-host']).toBe('x');
    expect(saw.headers['x-forwarded-proto']).toBe('http');
    expect(saw.headers['x-real-ip']).toBe('127.0.0.1');
    expect(saw.headers['x-request-id']).toMatch(/^[0-9a-f]{6}-/);
    expect(saw.headers.forwarded).toBeUndefined();
    expect(saw.headers['x-ferry-oob-work']).toBeUndefined();
  });

  it("refuses a client's request for Ferry's out-of-band work path, however it is spelled", async () => {
    for (const target of ['/ferry/oob-work', '/Ferry/OOB-Work/', '/ferry//oob-work', '/x/../ferry/oob-work', '/ferry/oob%2Dwork', '/ferry/%6f%6fb-work?x=1']) {
      const forged = await exchange(port, `POST ${target} HTTP/1.1\r\nHost: x\r\nX-Ferry-OOB-Work: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      expect(forged.status, target).toBe(404);
    }
    expect(await appSawUrlsMatching(port, /oob/i)).toEqual([]);
  });

  it('answers OPTIONS * itself with 200 and Allow, without an app failure', async () => {
    const options = await exchange(port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(options.status).toBe(200);
    expect(options.headers.allow).toContain('GET');
    expect(options.headers['content-length']).toBe('0');
    expect((await appSaw(port)).filter((r) => r.method === 'OPTIONS')).toEqual([]);
    expect(await appFailureLines(() => daemonLogLines(instance))).toEqual([]);
  });

  it('refuses with 400 and closes what nginx refuses in framing: a coding before chunked, chunked on HTTP/1.0, HTTP/2.0 and HTTP/0.9 lines', async () => {
    const smuggled = 'GET /framing-smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    const cases = [
      `POST /framing-identity HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n${smuggled}`,
      `POST /framing-gzip HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n${smuggled}`,
      `POST /framing-http10 HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n${smuggled}`,
      `GET /framing-http2 HTTP/2.0\r\nHost: x\r\n\r\n${smuggled}`,
      `GET /framing-http09\r\n\r\n`,
    ];
    for (const text of cases) {
      const refused = await exchange(port, text);
      expect(refused.status, text).toBe(400);
      expect(refused.closed, text).toBe(true);
      expect(refused.responses, text).toBe(1);
    }
    expect(await appSawUrlsMatching(port, /framing/)).toEqual([]);
  });

  it('refuses more than 100 header fields with 431 instead of dropping those past the limit', async () => {
    const fields = (n: number): string => Array.from({ length: n }, (_, i) => `a:${i}\r\n`).join('');
    const many = await exchange(port, `POST /many-fields HTTP/1.1\r\nHost: x\r\n${fields(2_100)}Content-Length: 3\r\nConnection: close\r\n\r\nabc`);
    expect(many.status).toBe(431);
    expect(many.closed).toBe(true);
    expect(await appSawUrlsMatching(port, /many-fields/)).toEqual([]);

    // 100 exactly are fine, and all of them reach the app (Host, Connection and 98 more).
    const hundred = await get(port, '/hundred-fields', `Host: x\r\n${fields(98)}`);
    expect(hundred.saw.fieldCount).toBeGreaterThanOrEqual(98);
    expect(hundred.saw.headers.a?.split(', ')).toHaveLength(98);
  });
});

describe('behind a trusted front server (--socket)', () => {
  let instance: TestInstance;
  let socketPath: string;
  let logFile: string;
  const instances: TestInstance[] = [];

  beforeAll(async () => {
    const root = tempDir('ferry-front-');
    const registry = path.join(root, 'registry');
    fs.mkdirSync(registry);
    socketPath = path.join(root, 'ferry.sock');
    logFile = path.join(root, 'ferry.log');
    const start = await runFerry(registry, ['start', fixture('mirror-app'), '--daemonize', '--socket', socketPath, '--log-file', logFile]);
    expect(start.exitCode, start.stderr).toBe(0);
    instance = trackOnlyInstance(registry, 0, instances);
  });

  afterAll(async () => {
    const stop = await runFerry(instance.registryDir, ['stop']);
    instance.forceCleanup();
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(instance.survivors()).toEqual([]);
  });

  it("keys on the front's X-Forwarded-Host: a page made for an attacker's X-Forwarded-Host is not served to others", async () => {
    const attack = await get(socketPath, '/xfh-page', 'Host: site.example\r\nX-Forwarded-Host: evil.example\r\n');
    expect(attack.saw.headers['x-forwarded-host']).toBe('evil.example');
    expect(attack.saw.headers.host).toBe('site.example');

    const victim = await get(socketPath, '/xfh-page', 'Host: site.example\r\n');
    expect(victim.response.headers['x-ferry-cache']).toMatch(/^miss/);
    expect(victim.saw.render).not.toBe(attack.saw.render);
    expect(victim.saw.headers['x-forwarded-host']).toBe('site.example');
    // The front that names the host it was asked for gets the same entry as one that sends Host only.
    const named = await get(socketPath, '/xfh-page', 'Host: site.example\r\nX-Forwarded-Host: site.example\r\n');
    expect(named.response.headers['x-ferry-cache']).toBe('hit');
    expect(named.saw.render).toBe(victim.saw.render);

    // Nor may an app that builds links from Host serve a page built for a forged Host.
    const forgedHost = await get(socketPath, '/xfh-host', 'Host: evil.example\r\nX-Forwarded-Host: site.example\r\n');
    const honest = await get(socketPath, '/xfh-host', 'Host: site.example\r\nX-Forwarded-Host: site.example\r\n');
    expect(honest.saw.render).not.toBe(forgedHost.saw.render);
    expect(honest.saw.headers.host).toBe('site.example');
  });

  it("keeps the front's X-Forwarded-For, X-Real-IP, Forwarded and X-Request-Id, and refuses a X-Forwarded-Host that is not one host", async () => {
    const { saw } = await get(socketPath, '/front-headers', 'Host: x\r\nX-Forwarded-For: 203.0.113.9\r\nX-Real-IP: 203.0.113.9\r\nForwarded: for=203.0.113.9\r\nX-Request-Id: front-id-1\r\nX-Ferry-OOB-Work: 1\r\n');
    expect(saw.headers['x-forwarded-for']).toBe('203.0.113.9');
    expect(saw.headers['x-real-ip']).toBe('203.0.113.9');
    expect(saw.headers.forwarded).toBe('for=203.0.113.9');
    expect(saw.headers['x-request-id']).toBe('front-id-1');
    expect(saw.headers['x-ferry-oob-work']).toBeUndefined();

    for (const forwarded of ['X-Forwarded-Host: a.example, b.example', 'X-Forwarded-Host: a/b', 'X-Forwarded-Proto: gopher']) {
      const bad = await exchange(socketPath, `GET /bad-forwarded HTTP/1.1\r\nHost: x\r\n${forwarded}\r\nConnection: close\r\n\r\n`);
      expect(bad.status, forwarded).toBe(400);
    }
    expect(await appSawUrlsMatching(socketPath, /bad-forwarded/)).toEqual([]);
    expect(fs.readFileSync(logFile, 'utf8')).not.toMatch(APP_FAILED);
  });
});
