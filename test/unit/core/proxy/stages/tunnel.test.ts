// Upgrade requests through the stage proxy in process: the front harness on 127.0.0.1:0, a real
// Pool over the FakeSpawner, whose processes "listen" on an in-process node:http app on a unix
// socket that answers upgrades as the tests need. The connection becomes a tunnel only on the
// app's 101; each test looks at what the app received as well as what the client got.

import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StageContext } from '../../../../../src/core/proxy/stages/context.js';
import { type PoolLimits } from '../../../../../src/lib/config.js';
import { connectClient, type Front, type RawClient } from '../../../../helpers/front-harness.js';
import { StageProxies, stopAppServer } from '../../../../helpers/stage-proxy.js';

let dir: string;
let appSocket: string;
let app: http.Server;

/** One upgrade request as the app saw it, and every byte it got on that socket after the head. */
interface SeenUpgrade {
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Bytes received before the app answered (for /late: before its 101). */
  beforeAnswer: string;
  received: string;
  /** Ferry ended or closed its side (the app's server is half-open: it sees the FIN). */
  closed: boolean;
}
const seen: SeenUpgrade[] = [];
/** The app's upgraded sockets (its server no longer tracks them), destroyed after each test. */
const appSockets = new Set<net.Socket>();

const SWITCH = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n';

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-tunnel-'));
  appSocket = path.join(dir, 'app.sock');
  app = http.createServer((req, res) => res.end('plain'));
  // /ws: 101 at once, then an echo (the app ends its side on "bye"). /late: 101 after 150 ms,
  // then an echo. /silent: no answer.
  // /declined: 200; /426: 426 Upgrade Required (both close-delimited, then read on).
  app.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const record: SeenUpgrade = { url: req.url ?? '', headers: req.headers, beforeAnswer: '', received: head.toString('latin1'), closed: false };
    seen.push(record);
    let answered = false;
    appSockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('end', () => (record.closed = true));
    socket.on('close', () => (record.closed = true));
    socket.on('data', (data: Buffer) => {
      record.received += data.toString('latin1');
      if (!answered) record.beforeAnswer += data.toString('latin1');
      else if (data.toString('latin1') === 'bye') socket.end();
      else if (req.url === '/ws' || req.url === '/late') socket.write(data);
    });
    const answer = (text: string): void => {
      if (!answered) record.beforeAnswer = record.received;
      answered = true;
      socket.write(text);
      if (text === SWITCH && record.received.length > 0) socket.write(record.received);
    };
    if (req.url === '/ws') answer(SWITCH);
    else if (req.url === '/late') setTimeout(() => answer(SWITCH), 150);
    else if (req.url === '/declined') answer('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\ndeclined');
    else if (req.url === '/426') answer('HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nContent-Length: 4\r\n\r\nnope');
  });
  await new Promise<void>((resolve) => app.listen(appSocket, resolve));
});

afterAll(async () => {
  for (const socket of appSockets) socket.destroy();
  await stopAppServer(app, dir);
});

const proxies = new StageProxies(() => appSocket);

afterEach(async () => {
  await proxies.stopAll();
  seen.length = 0;
  for (const socket of appSockets) socket.destroy();
  appSockets.clear();
});

interface Setup {
  limits?: Partial<PoolLimits>;
  sticky?: boolean;
  minInstances?: number;
  websocketIdleTimeoutMs?: number;
}

async function proxy(setup: Setup = {}): Promise<{ front: Front; ctx: StageContext }> {
  return proxies.start({
    app: { minInstances: setup.minInstances ?? 1, stickySessions: setup.sticky === true, limits: setup.limits },
    config: { websocketIdleTimeoutMs: setup.websocketIdleTimeoutMs ?? 60_000 },
    front: { handoverIdleCloseMs: 100 },
  });
}

const handshake = (target: string, extra = ''): string => `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n${extra}\r\n`;

/** Everything the client got after the 101's head. */
function afterHead(client: RawClient): string {
  const text = client.received;
  return text.slice(text.indexOf('\r\n\r\n') + 4);
}

async function openTunnel(to: number | string, extra = ''): Promise<RawClient> {
  const client = await connectClient(to);
  client.write(handshake('/ws', extra));
  await client.until((c) => c.received.includes('\r\n\r\n'), 'the 101');
  expect(client.received).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
  return client;
}

async function echoes(client: RawClient, message: string): Promise<void> {
  const before = afterHead(client).length;
  client.write(message);
  await client.until((c) => afterHead(c).length >= before + message.length, `the echo of ${message}`);
  expect(afterHead(client).slice(before)).toBe(message);
}

describe('stage proxy: upgrades the app accepts (101)', () => {
  it('tunnels both ways after the 101, with the forwarded headers, listed as `tunnel` and holding its session until the client closes', async () => {
    // max-request-time is for requests, not tunnels: this one outlives it.
    const { front, ctx } = await proxy({ limits: { maxRequestTimeMs: 100 } });
    const client = await openTunnel(front.to, 'X-Forwarded-For: 6.6.6.6\r\n');
    expect(client.received).toMatch(/\r\nUpgrade: echo\r\n/);
    expect(client.received).toMatch(/\r\nConnection: Upgrade\r\n/);
    await echoes(client, 'ping-1');
    await echoes(client, 'x'.repeat(200_000));
    await new Promise((resolve) => setTimeout(resolve, 250));
    await echoes(client, 'still here');

    const [got] = seen;
    expect(got?.url).toBe('/ws');
    expect(got?.headers.connection).toBe('Upgrade');
    expect(got?.headers.upgrade).toBe('echo');
    expect(got?.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(got?.headers['x-request-id']).toMatch(/^[0-9a-f]{6}-/);
    const worker = ctx.pool.groups[0]!.workers[0]!;
    expect(ctx.tracker.inspect()).toMatchObject([{ path: '/ws', state: 'tunnel', pid: worker.pid }]);
    expect(ctx.tracker.tunnelsOpen).toBe(1);
    expect(ctx.tunnels.size).toBe(1);
    expect(worker.sessions).toBe(1);
    expect(ctx.pool.groups[0]!.stats.responses.byClass[0]).toBe(1);
    // The app's connection left the upstream pool: it is the tunnel's.
    expect(worker.upstream.connectionCounts).toEqual({ busy: 0, idle: 0 });

    client.close();
    await vi.waitFor(() => expect(seen[0]?.closed).toBe(true));
    await vi.waitFor(() => expect(ctx.tracker.inFlight).toBe(0));
    expect(worker.sessions).toBe(0);
    expect(ctx.tunnels.size).toBe(0);
    expect(ctx.tracker.requestsTotal).toBe(1);
  });

  it('closes the client side when the app ends its side, and the app side when the client sends FIN', async () => {
    const { front, ctx } = await proxy();
    const first = await openTunnel(front.to);
    await echoes(first, 'a');
    first.socket.end();
    await vi.waitFor(() => expect(seen[0]?.closed).toBe(true));
    await first.waitClosed();

    const second = await openTunnel(front.to);
    await echoes(second, 'b');
    // The app's side of the tunnel ends: the client's closes too.
    await vi.waitFor(() => expect(ctx.tracker.tunnelsOpen).toBe(1));
    second.write('bye');
    await second.waitClosed();
    await vi.waitFor(() => expect(ctx.tracker.inFlight).toBe(0));
    expect(ctx.pool.groups[0]!.workers[0]!.sessions).toBe(0);
  });

  it('holds what the client sends behind the handshake: the app gets none of it before its 101, then all of it in the tunnel', async () => {
    const { front } = await proxy();
    const client = await connectClient(front.to);
    client.write(`${handshake('/late')}early-1`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.write('early-2');
    await client.until((c) => afterHead(c).includes('early-1early-2'), 'the held bytes echoed through the tunnel');
    expect(client.received).toMatch(/^HTTP\/1\.1 101 /);
    expect(seen[0]?.beforeAnswer).toBe('');
    expect(seen[0]?.received).toBe('early-1early-2');
  });

  it('sends an upgrade with the sticky cookie to the process the cookie names', async () => {
    const { front, ctx } = await proxy({ sticky: true, minInstances: 2 });
    await vi.waitFor(() => expect(ctx.pool.groups[0]!.workers.filter((w) => w.state === 'ready')).toHaveLength(2));
    const newest = ctx.pool.groups[0]!.workers[1]!;
    // Without the cookie the oldest (least busy, first) would get it.
    await openTunnel(front.to, `Cookie: a=1; _ferry_route=${newest.stickyId}\r\n`);
    expect(ctx.tracker.inspect()).toMatchObject([{ state: 'tunnel', pid: newest.pid }]);
    expect(newest.sessions).toBe(1);
  });
});

describe('stage proxy: upgrades the app declines', () => {
  it.each([
    ['/declined', 200, 'declined'],
    ['/426', 426, 'nope'],
  ])('relays a %s answer (%i) as a plain one with Connection: close, and closes: nothing sent behind it reaches the app', async (target, status, body) => {
    const { front, ctx } = await proxy();
    const client = await connectClient(front.to);
    client.write(`${handshake(target)}GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n`);
    await client.waitClosed();
    const [answer] = client.responses();
    expect(answer).toMatchObject({ status, body, headers: { connection: 'close' } });
    expect(client.received.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    await vi.waitFor(() => expect(ctx.tracker.inFlight).toBe(0));
    expect(seen.map((s) => [s.url, s.received])).toEqual([[target, '']]);
    expect(ctx.tunnels.size).toBe(0);
    expect(ctx.tracker.tunnelsOpen).toBe(0);
    expect(ctx.pool.groups[0]!.workers[0]!.sessions).toBe(0);
  });

  it('refuses a chunked handshake (400) and CONNECT (400); the app sees neither', async () => {
    const { front } = await proxy();
    const chunked = await connectClient(front.to);
    chunked.write(`${handshake('/ws', 'Transfer-Encoding: chunked\r\n')}5\r\nhello\r\n0\r\n\r\n`);
    await chunked.waitClosed();
    expect(chunked.received).toMatch(/^HTTP\/1\.1 400 [\s\S]*chunked body/);
    const connect = await connectClient(front.to);
    connect.write('CONNECT /x HTTP/1.1\r\nHost: x\r\n\r\n');
    await connect.waitClosed();
    expect(connect.received).toMatch(/^HTTP\/1\.1 400 [\s\S]*CONNECT/);
    expect(seen).toEqual([]);
  });
});

describe('stage proxy: tunnel ends', () => {
  it('closes a tunnel idle for --websocket-idle-timeout at both ends, not one that keeps talking; an unanswered handshake gets 504', async () => {
    const { front, ctx } = await proxy({ websocketIdleTimeoutMs: 300 });
    const idle = await openTunnel(front.to);
    const busy = await openTunnel(front.to);
    const idleSince = Date.now();
    for (let i = 0; i < 8; i++) {
      await echoes(busy, '.');
      await new Promise((resolve) => setTimeout(resolve, 80));
    }
    expect(idle.closed).toBe(true);
    expect(busy.closed).toBe(false);
    await vi.waitFor(() => expect(seen[0]?.closed).toBe(true));
    expect(seen[1]?.closed).toBe(false);
    await busy.waitClosed();
    expect(Date.now() - idleSince).toBeGreaterThanOrEqual(600);

    const silent = await connectClient(front.to);
    const askedAt = Date.now();
    silent.write(handshake('/silent'));
    await silent.waitClosed();
    expect(Date.now() - askedAt).toBeGreaterThanOrEqual(280);
    expect(silent.received).toMatch(/^HTTP\/1\.1 504 [\s\S]*did not answer this upgrade request in time/);
    await vi.waitFor(() => expect(ctx.tracker.inFlight).toBe(0));
    // Idle, not stuck: the process is not replaced.
    expect(ctx.pool.groups[0]!.workers).toHaveLength(1);
    expect(ctx.pool.groups[0]!.workers[0]!.sessions).toBe(0);
  });

  it('closes every tunnel at once for a stop (closeTunnels), and within the idle close on a handover', async () => {
    const { front, ctx } = await proxy();
    const a = await openTunnel(front.to);
    const b = await openTunnel(front.to);
    for (const tunnel of ctx.tunnels) tunnel.close();
    await a.waitClosed(500);
    await b.waitClosed(500);
    await vi.waitFor(() => expect(seen.every((s) => s.closed)).toBe(true));
    await vi.waitFor(() => expect(ctx.tracker.inFlight).toBe(0));

    const c = await openTunnel(front.to);
    await echoes(c, 'open');
    const startedAt = Date.now();
    await front.front.handOver(Date.now() + 5_000);
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    expect(c.closed).toBe(true);
    await vi.waitFor(() => expect(ctx.tracker.inFlight).toBe(0));
  });
});
