// Upgrade requests (WebSocket and others) at the public front, on raw sockets: the front splices
// the client to the app only once the app has answered 101, applies its door checks (body size,
// forwarded headers, request id) to the handshake, lists open tunnels in status, and closes them
// when idle, when either side ends, at a stop and on a restart. Each test looks at what the app
// saw too (upgrade-app records every request it gets and the fate of its tunnels).

import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { AdminClient } from '../../src/cli/admin-client.js';
import type { RequestsResponse, ServerResponse } from '../../src/lib/admin-api-contract.js';
import { fixture, runFerry, startDaemon, stopCleanly, type TestInstance, waitFor } from '../helpers/ferry.js';
import { expectRefusal, parseRawResponse, rawExchange } from '../helpers/raw-http.js';

let instance: TestInstance | undefined;
const sockets: net.Socket[] = [];

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
  instance?.forceCleanup();
  instance = undefined;
});

interface SeenRequest {
  how: 'request' | 'upgrade';
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** Every request upgrade-app has received (its own /seen excepted). */
async function appSaw(inst: TestInstance): Promise<SeenRequest[]> {
  const res = await request(`${inst.url}/seen`);
  return (await res.body.json()) as SeenRequest[];
}

/** What upgrade-app's tunnels did: open now, ended by the peer (FIN), closed. */
async function appTunnels(inst: TestInstance): Promise<{ open: number; ended: number; closed: number }> {
  const res = await request(`${inst.url}/tunnels`);
  return (await res.body.json()) as { open: number; ended: number; closed: number };
}

async function tunnelsInStatus(inst: TestInstance): Promise<{ listed: RequestsResponse['requests']; counted: number }> {
  const admin = new AdminClient(inst.info, 5000);
  const { requests } = await admin.call<RequestsResponse>('requests');
  const server = await admin.call<ServerResponse>('server');
  return { listed: requests.filter((r) => r.state === 'tunnel'), counted: server.connections.tunnels };
}

const HANDSHAKE = 'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n';

interface Tunnel {
  socket: net.Socket;
  /** Everything received after the 101's head. */
  received(): string;
  /** Resolves with the time the socket closed. */
  closed: Promise<number>;
}

/** Opens a WebSocket-style tunnel to upgrade-app's echo and waits for its 101. */
async function openTunnel(port: number, extraHeaders = ''): Promise<Tunnel> {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => undefined);
  let text = '';
  socket.on('data', (data: Buffer) => (text += data.toString('latin1')));
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  socket.write(`${HANDSHAKE}${extraHeaders}\r\n`);
  await waitFor(() => text.includes('\r\n\r\n'), 'the answer to the handshake');
  expect(text).toMatch(/^HTTP\/1\.1 101 /);
  const bodyStart = text.indexOf('\r\n\r\n') + 4;
  return { socket, received: () => text.slice(bodyStart), closed };
}

async function echoes(tunnel: Tunnel, message: string): Promise<void> {
  const before = tunnel.received().length;
  tunnel.socket.write(message);
  await waitFor(() => tunnel.received().length >= before + message.length, `the echo of ${message}`);
  expect(tunnel.received().slice(before)).toBe(message);
}

/** A chunked body decoded, strictly: undefined unless it is whole chunks and the last chunk. */
function dechunk(body: string): string | undefined {
  let out = '';
  let at = 0;
  for (;;) {
    const line = /^([0-9a-f]+)\r\n/i.exec(body.slice(at));
    if (!line) return undefined;
    const size = parseInt(line[1] as string, 16);
    at += line[0].length;
    if (size === 0) return body.slice(at) === '\r\n' ? out : undefined;
    if (body.slice(at + size, at + size + 2) !== '\r\n') return undefined;
    out += body.slice(at, at + size);
    at += size + 2;
  }
}

/** Resolves with true once `closed` resolves within `ms`, false otherwise. */
function closesWithin(closed: Promise<number>, ms: number): Promise<boolean> {
  return Promise.race([closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);
}

describe('Upgrade requests', () => {
  it('relays a declined Upgrade (the app answers 200) and closes the connection: nothing sent after it reaches the app', async () => {
    instance = await startDaemon(fixture('upgrade-app'));
    const forged = 'X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n';

    // The client waits for the app's 200, then writes a request with forged forwarded headers on
    // the same connection, as if it were talking to the app directly.
    const exchange = await rawExchange(
      instance.port,
      (s) => {
        s.write(`GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${forged}\r\n`);
        s.once('data', () => s.write(`GET /second HTTP/1.1\r\nHost: a\r\n${forged}\r\n`));
      },
      5_000,
    );

    expect(exchange.timedOut).toBe(false); // the front closed the connection
    const answer = parseRawResponse(exchange.received);
    expect(answer?.status).toBe(200);
    expect(answer?.headers.connection).toBe('close');
    expect(answer?.body).toBe('declined');
    expect(exchange.received.match(/HTTP\/1\.1 /g)).toHaveLength(1);

    // A chunked answer is relayed whole too, framed once: delimited by the close (node:http's
    // engine) or chunked again (the stage proxy's front), never the app's chunks as its body.
    const chunked = await rawExchange(instance.port, (s) => s.write('GET /chunked HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /third HTTP/1.1\r\nHost: a\r\n\r\n'), 5_000);
    expect(chunked.timedOut).toBe(false);
    const relayed = parseRawResponse(chunked.received);
    expect(relayed).toMatchObject({ status: 200, headers: { connection: 'close' } });
    const framing = relayed?.headers['transfer-encoding'];
    expect(framing === undefined ? relayed?.body : framing === 'chunked' ? dechunk(relayed?.body ?? '') : `framed ${framing}`).toBe('declined');

    const saw = await appSaw(instance);
    expect(saw.map((r) => `${r.how} ${r.url}`)).toEqual(['upgrade /x', 'upgrade /chunked']);
    // The handshake itself got the front's headers, as any request does.
    const [handshake] = saw;
    // On TCP the client's X-Forwarded-For is replaced by its address (a forged one is dropped).
    expect(handshake?.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(handshake?.headers['x-forwarded-proto']).toBe('http');
    expect(handshake?.headers['x-forwarded-host']).toBe('a');
    expect(handshake?.headers['x-request-id']).toMatch(/^[\w.:-]+$/);
    // It is not left in status as a tunnel.
    expect((await tunnelsInStatus(instance)).listed).toEqual([]);
    await stopCleanly(instance);
  });

  it('refuses at the door an Upgrade request with a body over --max-body-size (413), a chunked body (400), headers over --max-header-size (431) or a bad target (400); the app sees none', async () => {
    instance = await startDaemon(fixture('upgrade-app'), ['--max-body-size', '1k', '--max-header-size', '4096']);

    const tooLarge = await rawExchange(instance.port, (s) => s.write(`${HANDSHAKE}Content-Length: 3145728\r\n\r\n${'x'.repeat(64 * 1024)}`), 5_000);
    expectRefusal(parseRawResponse(tooLarge.received), 413);
    expect(tooLarge.timedOut).toBe(false);

    const chunked = await rawExchange(instance.port, (s) => s.write(`${HANDSHAKE}Transfer-Encoding: chunked\r\n\r\n400\r\n${'x'.repeat(1024)}\r\n`), 5_000);
    expectRefusal(parseRawResponse(chunked.received), 400);
    expect(chunked.timedOut).toBe(false);

    const bigHeaders = await rawExchange(instance.port, (s) => s.write(`${HANDSHAKE}X-Big: ${'a'.repeat(5000)}\r\n\r\n`), 5_000);
    expectRefusal(parseRawResponse(bigHeaders.received), 431);

    const badTarget = await rawExchange(instance.port, (s) => s.write(HANDSHAKE.replace('/ws', 'http://[::1') + '\r\n'), 5_000);
    expectRefusal(parseRawResponse(badTarget.received), 400);

    expect(await appSaw(instance)).toEqual([]);
    await stopCleanly(instance);
  });

  it('tunnels a 101 upgrade both ways, with the front’s forwarded headers and request id, and lists it in status while open', async () => {
    instance = await startDaemon(fixture('upgrade-app'));

    const tunnel = await openTunnel(instance.port, 'X-Forwarded-For: 6.6.6.6\r\nX-Request-Id: tunnel-1\r\n');
    await echoes(tunnel, 'ping-1');
    await echoes(tunnel, 'x'.repeat(100_000));

    const [handshake] = await appSaw(instance);
    expect(handshake).toMatchObject({ how: 'upgrade', url: '/ws' });
    expect(handshake?.headers['x-forwarded-for']).toBe('127.0.0.1');
    // Ferry's own request id, not the client's (on TCP a client cannot choose it).
    const requestId = handshake?.headers['x-request-id'];
    expect(requestId).toMatch(/^[\w.:-]+$/);
    expect(requestId).not.toBe('tunnel-1');
    const status = await tunnelsInStatus(instance);
    expect(status.listed).toMatchObject([{ id: requestId, method: 'GET', path: '/ws', state: 'tunnel' }]);
    expect(status.listed[0]?.pid).toBeGreaterThan(0);
    expect(status.counted).toBe(1);

    tunnel.socket.destroy();
    await waitFor(async () => (await tunnelsInStatus(instance!)).counted === 0, 'the tunnel to leave status');
    await stopCleanly(instance);
  });

  it('closes a tunnel idle for --websocket-idle-timeout, at the client and at the app, but not one that keeps talking', async () => {
    // 2 s, and a byte every 400 ms on the busy tunnel: a loaded machine's lag cannot make it idle.
    instance = await startDaemon(fixture('upgrade-app'), ['--websocket-idle-timeout', '2']);

    const busy = await openTunnel(instance.port);
    const idle = await openTunnel(instance.port);
    await echoes(idle, 'hello');
    const idleSince = Date.now();
    // One byte every 400 ms for 4 s: never idle for the timeout.
    for (let i = 0; i < 10; i++) {
      await echoes(busy, '.');
      await new Promise((resolve) => setTimeout(resolve, 400));
    }

    expect(await closesWithin(idle.closed, 0)).toBe(true);
    const closedAfter = (await idle.closed) - idleSince;
    expect(closedAfter).toBeGreaterThanOrEqual(1_900);
    expect(busy.socket.destroyed).toBe(false);
    await echoes(busy, 'still here');

    // The app's side of the idle tunnel was closed too; the busy one is still open.
    expect(await appTunnels(instance)).toMatchObject({ open: 1 });
    expect((await tunnelsInStatus(instance)).counted).toBe(1);

    expect(await closesWithin(busy.closed, 6_000)).toBe(true);
    await waitFor(async () => (await appTunnels(instance!)).open === 0, 'the app side of the second tunnel to close');

    // An app that never answers the handshake is idle too: 504, and the connection closes.
    const silent = await rawExchange(instance.port, (s) => s.write('GET /silent HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n'), 10_000);
    expectRefusal(parseRawResponse(silent.received), 504);
    expect(silent.elapsedMs).toBeGreaterThanOrEqual(1_900);
    expect((await tunnelsInStatus(instance)).listed).toEqual([]);
    await stopCleanly(instance);
  });

  it('closes the tunnel at the app and drops it from status promptly when the client ends its side (FIN), and at the client when the app ends', async () => {
    instance = await startDaemon(fixture('upgrade-app'));
    const tunnel = await openTunnel(instance.port);
    await echoes(tunnel, 'before FIN');
    expect((await tunnelsInStatus(instance)).listed).toHaveLength(1);

    const finAt = Date.now();
    tunnel.socket.end(); // FIN; the app ignores it and would keep its side open for ever

    // At once on an idle machine; the bound leaves room for a loaded one (the old code: never).
    expect(await closesWithin(tunnel.closed, 5_000)).toBe(true);
    await waitFor(async () => (await appTunnels(instance!)).open === 0, 'the app side to be closed', 5_000);
    await waitFor(async () => (await tunnelsInStatus(instance!)).listed.length === 0, 'the tunnel to leave /v1/requests', 5_000);
    expect(Date.now() - finAt).toBeLessThan(5_000);
    expect((await tunnelsInStatus(instance)).counted).toBe(0);

    // The other way round: the app ends its side, and the client's closes as promptly.
    const second = await openTunnel(instance.port);
    await echoes(second, 'before the app ends');
    second.socket.write('bye');
    expect(await closesWithin(second.closed, 5_000)).toBe(true);
    await waitFor(async () => (await tunnelsInStatus(instance!)).counted === 0, 'the second tunnel to leave status', 5_000);
    await stopCleanly(instance);
  });

  it('closes open tunnels at once on ferry stop, which returns in well under the 30 s deadline', async () => {
    instance = await startDaemon(fixture('upgrade-app'));
    const tunnels = await Promise.all([1, 2, 3].map(() => openTunnel(instance!.port)));
    for (const tunnel of tunnels) await echoes(tunnel, 'open');
    expect((await tunnelsInStatus(instance)).listed).toHaveLength(3);

    const startedAt = Date.now();
    const stop = await instance.stop();
    const tookMs = Date.now() - startedAt;

    expect(stop.exitCode).toBe(0);
    expect(tookMs).toBeLessThan(5_000);
    for (const tunnel of tunnels) expect(await closesWithin(tunnel.closed, 1_000)).toBe(true);
    expect(instance.survivors()).toEqual([]);
  });

  it('closes open tunnels within a second or so on ferry restart (the new core cannot take them over), not at the handover deadline; the new core tunnels again', async () => {
    instance = await startDaemon(fixture('upgrade-app'));
    const tunnel = await openTunnel(instance.port);
    await echoes(tunnel, 'before the restart');

    const startedAt = Date.now();
    const restart = await runFerry(instance.registryDir, ['restart', '--instance', instance.info.name]);
    expect(restart.exitCode, restart.stderr).toBe(0);
    expect(await closesWithin(tunnel.closed, 10_000)).toBe(true);
    // The old core's handover would otherwise hold it to its deadline (28 s).
    expect((await tunnel.closed) - startedAt).toBeLessThan(10_000);
    await waitFor(async () => (await appTunnels(instance!)).open === 0, 'the app side of the tunnel to close');

    instance.refresh();
    const again = await openTunnel(instance.port);
    await echoes(again, 'after the restart');
    await stopCleanly(instance);
  });
});
