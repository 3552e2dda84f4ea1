// The WSGI, Rack and ASGI loaders with real python3 and ruby processes behind a real Ferry:
// connections kept alive across requests, N requests at once with --concurrency N, bodies sent as
// the app yields them (SSE in real time), exceptions shown with their last frame and logged as one
// record, Rack hijack (WebSockets), and ASGI's lifespan, http and websocket scopes.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request, WebSocket } from 'undici';
import { readWorkerRecords } from '../../src/lib/instance-registry.js';
import { copyFixture, daemonLogLines, fixture, runFerry, startDaemon, stopCleanly, tempDir, waitFor, type TestInstance } from '../helpers/ferry.js';
import { eventDelays } from '../helpers/sse.js';
import { parseRawResponse, parseRawResponses, rawExchange } from '../helpers/raw-http.js';

let instance: TestInstance | undefined;

afterEach(() => {
  instance?.forceCleanup();
  instance = undefined;
});

const hasRack = spawnSync('ruby', ['-e', 'require "rack"'], { stdio: 'ignore' }).status === 0;

/** The unix socket the core reaches the instance's (first) app process on. */
function loaderSocket(inst: TestInstance): string {
  return readWorkerRecords(inst.info.dir)[0]?.address.replace(/^unix:/, '') as string;
}

async function timed(url: string): Promise<{ pid: number; elapsedMs: number }> {
  const startedMs = Date.now();
  const res = await request(url);
  expect(res.statusCode).toBe(200);
  const { pid } = (await res.body.json()) as { pid: number };
  return { pid, elapsedMs: Date.now() - startedMs };
}

/** Opens a WebSocket through Ferry, sends `messages`, and resolves with what came back. */
function converse(url: string, messages: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const received: string[] = [];
    ws.addEventListener('open', () => {
      for (const m of messages) ws.send(m);
    });
    ws.addEventListener('message', (event) => {
      received.push(String((event as { data: unknown }).data));
      if (received.length === messages.length) ws.close(1000, 'done');
    });
    ws.addEventListener('close', () => resolve(received));
    ws.addEventListener('error', () => reject(new Error(`WebSocket to ${url} failed`)));
  });
}

describe.each([
  { type: 'WSGI', dir: 'wsgi-app', file: 'passenger_wsgi.py', skip: false },
  // CI installs ruby and ruby-rack, so there a missing Rack fails instead of skipping.
  { type: 'Rack', dir: 'rack-app', file: 'config.ru', skip: !hasRack && !process.env.CI },
])('the $type loader', ({ type, dir, file, skip }) => {
  it.skipIf(skip)('keeps its connection open across requests, and closes it when asked (Connection: close, HTTP/1.0)', async () => {
    instance = await startDaemon(fixture(dir), ['--max-pool-size', '1']);
    const socketPath = loaderSocket(instance);
    // Four requests on one connection (a HEAD first: its answer has no body), the last asking to
    // close: four answers, then the close.
    const kept = await rawExchange(socketPath, (s) =>
      s.write('HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    );
    expect(kept.timedOut).toBe(false);
    const answers = parseRawResponses(kept.received, ['HEAD']);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers.slice(1).map((a) => (JSON.parse(a.body) as { path: string }).path)).toEqual(['/a', '/b', '/c']);
    expect(answers.map((a) => a.headers.connection)).toEqual([undefined, undefined, undefined, 'close']);
    expect((JSON.parse((answers[2] as { body: string }).body) as { body: string }).body).toBe('hello');
    // A request the app leaves unread does not spoil the next one on the connection.
    const unread = await rawExchange(socketPath, (s) => s.write('POST /events-not HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    expect(parseRawResponses(unread.received).map((a) => a.status)).toEqual([200, 200]);
    // Idle, it stays open (the core decides when to close it): nothing arrives within 1.5 s.
    const idle = await rawExchange(socketPath, (s) => s.write('GET /e HTTP/1.1\r\nHost: x\r\n\r\n'), 1_500);
    expect(idle.timedOut).toBe(true);
    expect(parseRawResponse(idle.received)?.status).toBe(200);
    // HTTP/1.0 without keep-alive: answered, said and closed.
    const old = await rawExchange(socketPath, (s) => s.write('GET /f HTTP/1.0\r\n\r\n'));
    expect(old.timedOut).toBe(false);
    expect(parseRawResponse(old.received)?.headers.connection).toBe('close');

    // Through Ferry: 1,000 requests one after another on the kept-alive connections, none lost.
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1_000; i++) {
      const res = await request(`${instance.url}/n`);
      await res.body.text();
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: 1_000 });
    await stopCleanly(instance);
  }, 60_000);

  it.skipIf(skip)('runs N requests at once in one process with --concurrency N, and the N+1th waits for a slot', async () => {
    const n = 4;
    const sleepMs = 1_500;
    instance = await startDaemon(fixture(dir), ['--max-pool-size', '1', '--concurrency', String(n)]);
    // N slow requests: together they take about as long as one (one after another: N times as long).
    const together = await Promise.all(Array.from({ length: n }, () => timed(`${instance!.url}/n?sleep=${sleepMs}`)));
    expect(new Set(together.map((a) => a.pid)).size).toBe(1);
    expect(Math.max(...together.map((a) => a.elapsedMs)), together.map((a) => a.elapsedMs).join(' ')).toBeLessThan(2 * sleepMs);
    // N+1: the one beyond the process's concurrency is queued by the core until a slot frees.
    const more = await Promise.all(Array.from({ length: n + 1 }, () => timed(`${instance!.url}/n?sleep=${sleepMs}`)));
    const times = more.map((a) => a.elapsedMs).sort((a, b) => a - b);
    expect(times.slice(0, n).every((t) => t < 2 * sleepMs), times.join(' ')).toBe(true);
    expect(times[n], times.join(' ')).toBeGreaterThanOrEqual(2 * sleepMs - 100);
    // The loader itself holds to N too (asked on its socket past the core): N+1 connections at once.
    const socketPath = loaderSocket(instance);
    const startedMs = Date.now();
    const direct = await Promise.all(
      Array.from({ length: n + 1 }, () => rawExchange(socketPath, (s) => s.write(`GET /n?sleep=${sleepMs} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).then(() => Date.now() - startedMs)),
    );
    direct.sort((a, b) => a - b);
    expect(direct[n - 1], direct.join(' ')).toBeLessThan(2 * sleepMs);
    expect(direct[n], direct.join(' ')).toBeGreaterThanOrEqual(2 * sleepMs - 100);
    await stopCleanly(instance);
  }, 60_000);

  it.skipIf(skip)('delivers each server-sent event within 50 ms of the app yielding it', async () => {
    instance = await startDaemon(fixture(dir));
    // A first stream warms the code paths up (a cold start is not what this measures).
    await (await request(`${instance.url}/events`)).body.text();
    const { contentType, delays } = await eventDelays(`${instance.url}/events`);
    expect(contentType).toBe('text/event-stream');
    expect(delays).toHaveLength(10);
    expect(Math.max(...delays), `delays in ms: ${delays.join(' ')}`).toBeLessThan(50);
    // On its socket: chunked, as no Content-Length was given.
    const direct = await rawExchange(loaderSocket(instance), (s) => s.write('GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    expect(parseRawResponse(direct.received)?.headers['transfer-encoding']).toBe('chunked');
    expect(direct.received.endsWith('\r\n0\r\n\r\n')).toBe(true);
    await stopCleanly(instance);
  }, 30_000);

  it.skipIf(skip)('answers an exception with a 500 that shows its last frame to a local client in development, logs it as one record, and serves on', async () => {
    instance = await startDaemon(fixture(dir));
    const before = await timed(`${instance.url}/n`);
    const res = await request(`${instance.url}/raise`);
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const page = await res.body.text();
    const frame = type === 'WSGI' ? `(at ${file}:18 in divide)` : /\(at \S*config\.ru:25:in [`']\/'\)/;
    const message = type === 'WSGI' ? 'ZeroDivisionError: division by zero' : 'ZeroDivisionError: divided by 0';
    expect(page).toContain(message);
    if (typeof frame === 'string') expect(page).toContain(frame);
    else expect(page).toMatch(frame);
    expect(page).toMatch(/<p>Request id: [\w-]+<\/p>/);
    // Broken off midway (the answer had begun): the client's answer is cut short, not a 200 in full.
    await expect(request(`${instance.url}/raise-midway`).then((r) => r.body.text())).rejects.toThrow();
    // The process lives on and serves the next request.
    expect((await timed(`${instance.url}/n`)).pid).toBe(before.pid);
    // One record per exception, at error level, with the traceback in it (not a record per line).
    const lines = await waitFor(() => {
      const found = daemonLogLines(instance!).filter((l) => l.exception !== undefined);
      return found.length === 2 ? found : undefined;
    }, 'the two exception records');
    expect(lines[0]).toMatchObject({ level: 50, msg: expect.stringContaining(`exception in GET /raise: ${message}`) as unknown });
    expect((lines[0]?.exception as { traceback: string }).traceback).toContain('divide');
    expect(lines[1]?.msg).toContain('the stream broke');
    expect(daemonLogLines(instance).filter((l) => /^\s+(File "|from )/.test(l.msg))).toEqual([]);
    await stopCleanly(instance);
  }, 30_000);

  it.skipIf(skip)('shows a plain 500 in production, without the exception', async () => {
    instance = await startDaemon(fixture(dir), ['--environment', 'production']);
    const res = await request(`${instance.url}/raise`);
    expect(res.statusCode).toBe(500);
    const body = await res.body.text();
    expect(body).toMatch(/^500 Internal Server Error\n\nThe application raised an exception\.\nRequest id: [\w-]+\n$/);
    await stopCleanly(instance);
  });

  it.skipIf(skip)('shows an exception at load on the friendly error page with its last frame, and logs it as one record', async () => {
    const appDir = copyFixture(dir);
    instance = await startDaemon(appDir);
    fs.writeFileSync(
      path.join(appDir, file),
      type === 'WSGI' ? 'import os\n\nos.environ["DATABASE_URL"]\n' : "ENV.fetch('DATABASE_URL')\nrun ->(_env) { [200, {}, ['never']] }\n",
    );
    expect((await runFerry(instance.registryDir, ['restart-app'])).exitCode).toBe(0);
    const res = await waitFor(async () => {
      const r = await fetch(`${instance!.url}/`);
      return r.status === 503 ? r : undefined;
    }, 'a 503 while the app cannot start');
    const page = await res.text();
    const reason = type === 'WSGI' ? `KeyError: &#39;DATABASE_URL&#39; (at ${file}:3 in &lt;module&gt;)` : /config\.ru:1:in [`']fetch&#39;: key not found: &quot;DATABASE_URL&quot; \(KeyError\)/;
    if (typeof reason === 'string') expect(page).toContain(reason);
    else expect(page).toMatch(reason);
    const records = daemonLogLines(instance).filter((l) => (l.exception as { when?: string } | undefined)?.when === 'load');
    expect(records.length).toBeGreaterThanOrEqual(1);
    expect(records[0]?.level).toBe(50);
    expect(daemonLogLines(instance).filter((l) => l.msg.startsWith('Traceback') || /^\s+from /.test(l.msg))).toEqual([]);
    await stopCleanly(instance);
  }, 30_000);
});

describe('Rack hijack', () => {
  it.skipIf(!hasRack && !process.env.CI)('carries WebSockets taken over by full (rack.hijack) and partial (rack.hijack header) hijack, the process serving on', async () => {
    instance = await startDaemon(fixture('rack-websocket'), ['--max-pool-size', '1', '--concurrency', '4']);
    const ws = instance.url.replace(/^http/, 'ws');
    const { pid } = (await (await request(`${instance.url}/pid`)).body.json()) as { pid: number };
    // Both kinds at once, and several messages each way.
    const [full, partial] = await Promise.all([converse(`${ws}/ws`, ['one', 'two', 'three']), converse(`${ws}/ws-partial`, ['four', 'five'])]);
    expect(full).toEqual(['echo: one', 'echo: two', 'echo: three']);
    expect(partial).toEqual(['echo: four', 'echo: five']);
    // The hijacked sockets are the app's: the loader wrote nothing on them after the switch (a
    // stray byte would have broken the frames above) and serves other requests on, same process.
    expect(((await (await request(`${instance.url}/pid`)).body.json()) as { pid: number }).pid).toBe(pid);
    await stopCleanly(instance);
  }, 30_000);
});

describe('the ASGI loader', () => {
  it('serves a FastAPI-shaped app found by its asgi.py: lifespan before the first request and at stop, JSON both ways, kept-alive connections', async () => {
    const shutdownFile = path.join(tempDir('ferry-asgi-'), 'shutdown');
    instance = await startDaemon(fixture('asgi-app'), ['--max-pool-size', '1', '--envvar', `SHUTDOWN_FILE=${shutdownFile}`]);
    const item = (await (await request(`${instance.url}/items/7`)).body.json()) as { id: string; pid: number; startedAt: number | null };
    expect(item).toMatchObject({ id: '7' });
    expect(item.startedAt).toBeGreaterThan(0); // set by lifespan.startup, before any request
    const created = await request(`${instance.url}/items`, { method: 'POST', body: JSON.stringify({ name: 'ferry' }), headers: { 'content-type': 'application/json' } });
    expect(created.statusCode).toBe(201);
    expect(await created.body.json()).toEqual({ received: { name: 'ferry' }, length: 16 });
    expect((await request(`${instance.url}/nowhere`)).statusCode).toBe(404);
    // On its socket: two requests on one connection, the second asking to close.
    const kept = await rawExchange(loaderSocket(instance), (s) => s.write('GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /items/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    expect(parseRawResponses(kept.received).map((a) => (JSON.parse(a.body) as { id: string }).id)).toEqual(['1', '2']);
    await stopCleanly(instance);
    // lifespan.shutdown ran when Ferry stopped the process.
    expect(fs.readFileSync(shutdownFile, 'utf8')).toBe('shut down cleanly\n');
  }, 30_000);

  it('runs many slow requests at once in one process (the event loop), SSE in real time, WebSockets', async () => {
    instance = await startDaemon(fixture('asgi-app'), ['--max-pool-size', '1']);
    const sleepMs = 1_500;
    const slow = await Promise.all(Array.from({ length: 20 }, () => timed(`${instance!.url}/slow?ms=${sleepMs}`)));
    expect(new Set(slow.map((a) => a.pid)).size).toBe(1);
    expect(Math.max(...slow.map((a) => a.elapsedMs)), slow.map((a) => a.elapsedMs).join(' ')).toBeLessThan(2 * sleepMs);

    await (await request(`${instance.url}/events`)).body.text(); // warm-up
    const { delays } = await eventDelays(`${instance.url}/events`);
    expect(delays).toHaveLength(10);
    expect(Math.max(...delays), `delays in ms: ${delays.join(' ')}`).toBeLessThan(50);

    expect(await converse(`${instance.url.replace(/^http/, 'ws')}/ws`, ['one', 'two'])).toEqual(['echo: one', 'echo: two']);
    await stopCleanly(instance);
  }, 30_000);

  it('answers an exception with a 500 naming its frame (development, local client) and logs it as one record', async () => {
    instance = await startDaemon(fixture('asgi-app'));
    const res = await request(`${instance.url}/raise`);
    expect(res.statusCode).toBe(500);
    expect(await res.body.text()).toContain("KeyError: 'missing' (at asgi.py:75 in fail)");
    const records = await waitFor(() => {
      const found = daemonLogLines(instance!).filter((l) => l.exception !== undefined);
      return found.length > 0 ? found : undefined;
    }, 'the exception record');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ level: 50, msg: "exception in GET /raise: KeyError: 'missing' (at asgi.py:75 in fail)" });
    await stopCleanly(instance);
  });
});
