// Ferry's upstream client against real in-process servers on unix sockets (node:http for what an
// app does, raw node:net for what no well-behaved app does), milliseconds each.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ResponseHead } from '../../../../src/core/engine/response-head.js';
import type { UpstreamHandler, UpstreamRequest } from '../../../../src/core/upstream/upstream-exchange.js';
import { UpstreamPool } from '../../../../src/core/upstream/upstream-pool.js';

let dir: string;
const servers: net.Server[] = [];
const pools: UpstreamPool[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-upstream-'));
});

afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.destroy();
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          if (server instanceof http.Server) server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Counted {
  socketPath: string;
  /** Connections the server has accepted. */
  connections: () => number;
}

async function listen(server: net.Server): Promise<Counted> {
  const socketPath = path.join(dir, `app-${servers.length}.sock`);
  let connections = 0;
  server.on('connection', () => connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return { socketPath, connections: () => connections };
}

function httpApp(handler: http.RequestListener): Promise<Counted> {
  return listen(http.createServer(handler));
}

/** A server that speaks bytes: `answer` gets each connection's data and its socket. */
function rawApp(answer: (socket: net.Socket, data: Buffer, nth: number) => void): Promise<Counted> {
  return listen(
    net.createServer((socket) => {
      let nth = 0;
      socket.on('error', () => undefined);
      socket.on('data', (data) => answer(socket, data, nth++));
    }),
  );
}

function poolFor(socketPath: string): UpstreamPool {
  const pool = new UpstreamPool({ socketPath });
  pools.push(pool);
  return pool;
}

interface Outcome {
  head?: ResponseHead;
  interim: number[];
  body: Buffer;
  error?: Error & { code?: string };
}

/** A handler that records everything; `onData` may say false (backpressure). */
class Recorder implements UpstreamHandler {
  readonly outcome: Outcome = { interim: [], body: Buffer.alloc(0) };
  readonly chunks: Buffer[] = [];
  readonly done: Promise<Outcome>;
  private settle!: (outcome: Outcome) => void;

  constructor(private readonly take: (chunk: Buffer, recorder: Recorder) => boolean = () => true) {
    this.done = new Promise((resolve) => (this.settle = resolve));
  }

  get received(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  onInterim(head: ResponseHead): void {
    this.outcome.interim.push(head.status);
  }

  onHead(head: ResponseHead): void {
    this.outcome.head = head;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(Buffer.from(chunk));
    return this.take(chunk, this);
  }

  onComplete(): void {
    this.outcome.body = Buffer.concat(this.chunks);
    this.settle(this.outcome);
  }

  onError(err: Error): void {
    this.outcome.error = err;
    this.outcome.body = Buffer.concat(this.chunks);
    this.settle(this.outcome);
  }
}

function send(pool: UpstreamPool, request: Partial<UpstreamRequest> = {}, recorder = new Recorder()): Promise<Outcome> {
  pool.dispatch({ method: 'GET', path: '/', headers: ['Host', 'app'], ...request }, recorder);
  return recorder.done;
}

const tick = (ms = 20): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** An answer of the app's, as bytes. */
const answer = (lines: string[], body = ''): string => `${lines.join('\r\n')}\r\n\r\n${body}`;

describe('UpstreamPool: connections', () => {
  it('carries N sequential requests on one connection and keeps it idle after', async () => {
    const app = await httpApp((req, res) => res.end(`hello ${req.url}`));
    const pool = poolFor(app.socketPath);
    for (let i = 0; i < 5; i++) {
      const outcome = await send(pool, { path: `/${i}` });
      expect(outcome.error).toBeUndefined();
      expect(outcome.body.toString()).toBe(`hello /${i}`);
    }
    expect(app.connections()).toBe(1);
    expect(pool.connectionCounts).toEqual({ busy: 0, idle: 1 });
  });

  it('opens one connection per request in flight and reuses them last in, first out', async () => {
    const held: http.ServerResponse[] = [];
    const app = await httpApp((req, res) => {
      if (req.url === '/hold') held.push(res);
      else res.end(String(req.socket.remotePort ?? req.socket.localAddress));
    });
    const pool = poolFor(app.socketPath);
    const three = [send(pool, { path: '/hold' }), send(pool, { path: '/hold' }), send(pool, { path: '/hold' })];
    while (held.length < 3) await tick(5);
    expect(pool.connectionCounts).toEqual({ busy: 3, idle: 0 });
    for (const res of held) res.end('done');
    await Promise.all(three);
    expect(pool.connectionCounts).toEqual({ busy: 0, idle: 3 });
    await send(pool);
    expect(app.connections()).toBe(3);
  });

  it('does not reuse a connection after Connection: close', async () => {
    const app = await httpApp((_req, res) => {
      res.setHeader('Connection', 'close');
      res.end('bye');
    });
    const pool = poolFor(app.socketPath);
    expect((await send(pool)).body.toString()).toBe('bye');
    expect((await send(pool)).body.toString()).toBe('bye');
    expect(app.connections()).toBe(2);
  });

  it('does not reuse a connection after an HTTP/1.0 answer', async () => {
    const app = await rawApp((socket) => socket.write(answer(['HTTP/1.0 200 OK', 'Content-Length: 2', 'Connection: keep-alive'], 'ok')));
    const pool = poolFor(app.socketPath);
    expect((await send(pool)).body.toString()).toBe('ok');
    expect((await send(pool)).body.toString()).toBe('ok');
    expect(app.connections()).toBe(2);
  });

  it('drops an idle connection as soon as the app closes it', async () => {
    const app = await httpApp((_req, res) => res.end('x'));
    const pool = poolFor(app.socketPath);
    await send(pool);
    expect(pool.connectionCounts.idle).toBe(1);
    (servers[0] as http.Server).closeIdleConnections();
    await tick();
    expect(pool.connectionCounts.idle).toBe(0);
    expect((await send(pool)).body.toString()).toBe('x');
  });

  it('drops an idle connection on which the app sends bytes nobody asked for', async () => {
    const app = await rawApp((socket) => {
      socket.write(answer(['HTTP/1.1 200 OK', 'Content-Length: 2'], 'ok'));
      setTimeout(() => socket.write('HTTP/1.1 200 OK\r\n'), 5);
    });
    const pool = poolFor(app.socketPath);
    await send(pool);
    expect(pool.connectionCounts.idle).toBe(1);
    await tick(30);
    expect(pool.connectionCounts.idle).toBe(0);
  });

  it("keeps a connection idle no longer than the app's Keep-Alive timeout less a second", async () => {
    const app = await rawApp((socket) => socket.write(answer(['HTTP/1.1 200 OK', 'Content-Length: 1', 'Keep-Alive: timeout=1'], 'k')));
    const pool = poolFor(app.socketPath);
    await send(pool);
    // timeout=1 leaves no time at all: closed at once rather than raced.
    expect(pool.connectionCounts.idle).toBe(0);
    await send(pool);
    expect(app.connections()).toBe(2);
  });

  it('does not take an idle connection past its idle timeout', async () => {
    const app = await httpApp((_req, res) => res.end('x'));
    const pool = new UpstreamPool({ socketPath: app.socketPath }, { idleTimeoutMs: 30 });
    pools.push(pool);
    // Node's server says Keep-Alive: timeout=5; our own, shorter, limit must still hold.
    const server = servers[0] as http.Server;
    server.keepAliveTimeout = 0;
    await send(pool);
    await tick(60);
    await send(pool);
    expect(app.connections()).toBe(2);
  });

  it('talks TCP to a generic app', async () => {
    const server = http.createServer((_req, res) => res.end('tcp'));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const pool = new UpstreamPool({ host: '127.0.0.1', port });
    pools.push(pool);
    expect((await send(pool)).body.toString()).toBe('tcp');
  });
});

describe('UpstreamPool: reading answers', () => {
  it('reads a chunked answer', async () => {
    const app = await httpApp((_req, res) => {
      res.write('one,');
      setTimeout(() => res.end('two'), 5);
    });
    const pool = poolFor(app.socketPath);
    const outcome = await send(pool);
    expect(outcome.head?.body).toEqual({ kind: 'chunked' });
    expect(outcome.body.toString()).toBe('one,two');
    expect(pool.connectionCounts.idle).toBe(1);
  });

  it('reads a Content-Length answer that comes in pieces', async () => {
    const app = await rawApp((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Le');
      setTimeout(() => socket.write('ngth: 10\r\n\r\n01234'), 5);
      setTimeout(() => socket.write('56789'), 10);
    });
    const pool = poolFor(app.socketPath);
    const outcome = await send(pool);
    expect(outcome.head?.status).toBe(200);
    expect(outcome.body.toString()).toBe('0123456789');
    expect(pool.connectionCounts.idle).toBe(1);
  });

  it('reads a close-delimited answer to its end and does not reuse the connection', async () => {
    const app = await rawApp((socket) => {
      socket.write('HTTP/1.1 200 OK\r\n\r\nuntil ');
      setTimeout(() => socket.end('the end'), 5);
    });
    const pool = poolFor(app.socketPath);
    const outcome = await send(pool);
    expect(outcome.error).toBeUndefined();
    expect(outcome.head?.body).toEqual({ kind: 'close' });
    expect(outcome.body.toString()).toBe('until the end');
    await tick();
    expect(pool.connectionCounts).toEqual({ busy: 0, idle: 0 });
  });

  it('reads no body after HEAD, though Content-Length says one, and reuses the connection', async () => {
    const app = await httpApp((_req, res) => {
      res.setHeader('Content-Length', 5);
      res.end('hello');
    });
    const pool = poolFor(app.socketPath);
    const head = await send(pool, { method: 'HEAD' });
    expect(head.error).toBeUndefined();
    expect(head.head?.fields.find((f) => f.lower === 'content-length')?.value).toBe('5');
    expect(head.body.length).toBe(0);
    expect((await send(pool)).body.toString()).toBe('hello');
    expect(app.connections()).toBe(1);
  });

  it('reads no body after 204 and 304', async () => {
    const app = await httpApp((req, res) => {
      res.statusCode = req.url === '/204' ? 204 : 304;
      res.end();
    });
    const pool = poolFor(app.socketPath);
    for (const status of [204, 304]) {
      const outcome = await send(pool, { path: `/${status}` });
      expect(outcome.head?.status).toBe(status);
      expect(outcome.body.length).toBe(0);
    }
    expect(app.connections()).toBe(1);
  });

  it('reports 1xx interim answers to the handler, then the final one', async () => {
    const app = await httpApp((_req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload' }, () => {
        setTimeout(() => res.end('final'), 5);
      });
    });
    const pool = poolFor(app.socketPath);
    const outcome = await send(pool);
    expect(outcome.interim).toEqual([103]);
    expect(outcome.head?.status).toBe(200);
    expect(outcome.body.toString()).toBe('final');
  });

  it('reads an interim answer and the final one from the same bytes', async () => {
    const app = await rawApp((socket) => socket.write(`HTTP/1.1 100 Continue\r\n\r\n${answer(['HTTP/1.1 201 Created', 'Content-Length: 2'], 'ok')}`));
    const outcome = await send(poolFor(app.socketPath));
    expect(outcome.interim).toEqual([100]);
    expect(outcome.head?.status).toBe(201);
    expect(outcome.body.toString()).toBe('ok');
  });

  it('stops reading the app while the handler says false, and goes on at resume()', async () => {
    const size = 4 * 1024 * 1024;
    const app = await httpApp((_req, res) => {
      res.setHeader('Content-Length', size);
      res.end(Buffer.alloc(size, 7));
    });
    const pool = poolFor(app.socketPath);
    let paused = false;
    const recorder = new Recorder(() => {
      if (paused) return true;
      paused = true;
      return false;
    });
    const exchange = pool.dispatch({ method: 'GET', path: '/', headers: ['Host', 'app'] }, recorder);
    while (recorder.received === 0) await tick(5);
    await tick(50);
    const whilePaused = recorder.received;
    await tick(50);
    // Nothing more came while paused (what one read brought, at most).
    expect(recorder.received).toBe(whilePaused);
    expect(whilePaused).toBeLessThan(size);
    exchange.resume();
    const outcome = await recorder.done;
    expect(outcome.error).toBeUndefined();
    expect(outcome.body.length).toBe(size);
  });

  it('reads a few MB answer whole and intact', async () => {
    const data = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const app = await httpApp((_req, res) => {
      for (let at = 0; at < data.length; at += 100_000) res.write(data.subarray(at, at + 100_000));
      res.end();
    });
    const outcome = await send(poolFor(app.socketPath));
    expect(sha(outcome.body)).toBe(sha(data));
  });
});

describe('UpstreamPool: failures', () => {
  it('reports the handler its own error when it aborts mid-answer, and closes the connection', async () => {
    let appSocketClosed = false;
    const app = await httpApp((req, res) => {
      req.socket.once('close', () => (appSocketClosed = true));
      res.write('part');
    });
    const pool = poolFor(app.socketPath);
    const aborted = new Error('client closed the connection');
    const recorder = new Recorder();
    const exchange = pool.dispatch({ method: 'GET', path: '/', headers: ['Host', 'app'] }, recorder);
    while (recorder.received === 0) await tick(5);
    exchange.abort(aborted);
    const outcome = await recorder.done;
    expect(outcome.error).toBe(aborted);
    await tick();
    expect(appSocketClosed).toBe(true);
    expect(pool.connectionCounts).toEqual({ busy: 0, idle: 0 });
  });

  it('may abort from inside onData', async () => {
    const app = await httpApp((_req, res) => res.end(Buffer.alloc(100_000)));
    const pool = poolFor(app.socketPath);
    const stop = new Error('enough');
    let exchange: ReturnType<UpstreamPool['dispatch']> | undefined;
    const recorder = new Recorder(() => {
      exchange?.abort(stop);
      return true;
    });
    exchange = pool.dispatch({ method: 'GET', path: '/', headers: ['Host', 'app'] }, recorder);
    const outcome = await recorder.done;
    expect(outcome.error).toBe(stop);
    expect(recorder.chunks.length).toBe(1);
  });

  it('keeps ECONNREFUSED for a socket nobody listens on, and ENOENT for a missing one', async () => {
    const dead = path.join(dir, 'dead.sock');
    fs.writeFileSync(dead, '');
    expect((await send(poolFor(dead))).error?.code).toBe('ECONNREFUSED');
    expect((await send(poolFor(path.join(dir, 'missing.sock')))).error?.code).toBe('ENOENT');
  });

  it('leaves a streamed body unread when the connection is refused', async () => {
    const body = new PassThrough();
    body.end('unsent');
    const outcome = await send(poolFor(path.join(dir, 'missing.sock')), { method: 'POST', body });
    expect(outcome.error?.code).toBe('ENOENT');
    expect(body.readableDidRead).toBe(false);
  });

  it('fails after the head when the app closes in the middle of the body', async () => {
    const app = await rawApp((socket) => {
      socket.write(answer(['HTTP/1.1 200 OK', 'Content-Length: 100'], 'only ten..'));
      setTimeout(() => socket.destroy(), 5);
    });
    const outcome = await send(poolFor(app.socketPath));
    expect(outcome.head?.status).toBe(200);
    expect(outcome.body.toString()).toBe('only ten..');
    expect(outcome.error?.code).toBe('FERRY_UPSTREAM_CLOSED');
  });

  it('fails when the app closes before answering a fresh connection (not retried)', async () => {
    const app = await rawApp((socket) => socket.destroy());
    const outcome = await send(poolFor(app.socketPath));
    expect(outcome.head).toBeUndefined();
    expect(outcome.error).toBeDefined();
    expect(app.connections()).toBe(1);
  });

  it('refuses a malformed answer', async () => {
    const app = await rawApp((socket) => socket.write('HTTP/1.1 2x0 OK\r\n\r\n'));
    const outcome = await send(poolFor(app.socketPath));
    expect(outcome.head).toBeUndefined();
    expect(outcome.error?.code).toBe('FERRY_UPSTREAM_BAD_RESPONSE');
  });

  it('refuses an answer with both Content-Length and Transfer-Encoding', async () => {
    const app = await rawApp((socket) => socket.write(answer(['HTTP/1.1 200 OK', 'Content-Length: 3', 'Transfer-Encoding: chunked'], '0\r\n\r\n')));
    const outcome = await send(poolFor(app.socketPath));
    expect(outcome.error?.code).toBe('FERRY_UPSTREAM_BAD_RESPONSE');
  });

  it('refuses an oversized head', async () => {
    const app = await rawApp((socket) => socket.write(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`));
    const outcome = await send(poolFor(app.socketPath));
    expect(outcome.head).toBeUndefined();
    expect(outcome.error?.code).toBe('FERRY_UPSTREAM_BAD_RESPONSE');
  });

  it('refuses a bad chunk after the head', async () => {
    const app = await rawApp((socket) => socket.write(answer(['HTTP/1.1 200 OK', 'Transfer-Encoding: chunked'], 'zz\r\n')));
    const outcome = await send(poolFor(app.socketPath));
    expect(outcome.head?.status).toBe(200);
    expect(outcome.error?.code).toBe('FERRY_UPSTREAM_BAD_RESPONSE');
  });

  it('refuses to write a field with CR or LF in it', async () => {
    const app = await httpApp((_req, res) => res.end());
    const outcome = await send(poolFor(app.socketPath), { headers: ['X-Evil', 'a\r\nX-Injected: 1'] });
    expect(outcome.error?.code).toBe('FERRY_UPSTREAM_BAD_REQUEST');
    expect(app.connections()).toBe(0);
  });
});

/** A Recorder that also takes a 101's socket (an upgrade request's handler). */
class Upgrader extends Recorder {
  readonly switched: Promise<{ head: ResponseHead; socket: net.Socket; rest: Buffer }>;
  private onSwitch!: (got: { head: ResponseHead; socket: net.Socket; rest: Buffer }) => void;

  constructor() {
    super();
    this.switched = new Promise((resolve) => (this.onSwitch = resolve));
  }

  onUpgrade(head: ResponseHead, socket: net.Socket, rest: Buffer): void {
    this.onSwitch({ head, socket, rest });
  }
}

const UPGRADE_FIELDS = ['Host', 'app', 'Connection', 'Upgrade', 'Upgrade', 'echo'];

describe('UpstreamPool: switching protocols', () => {
  it('hands the connection over after a 101 to an upgrade request, with the bytes after the head, and forgets it', async () => {
    // The app answers 101 and its first tunnel bytes in one write, then echoes.
    const app = await rawApp((socket, data, nth) => {
      if (nth === 0) socket.write(answer(['HTTP/1.1 101 Switching Protocols', 'Upgrade: echo', 'Connection: Upgrade'], 'hello'));
      else socket.write(data);
    });
    const pool = poolFor(app.socketPath);
    const upgrader = new Upgrader();
    pool.dispatch({ method: 'GET', path: '/ws', headers: UPGRADE_FIELDS, upgrade: true }, upgrader);
    const { head, socket, rest } = await upgrader.switched;
    expect(head.status).toBe(101);
    expect(rest.toString()).toBe('hello');
    expect(pool.connectionCounts).toEqual({ busy: 0, idle: 0 });
    socket.on('error', () => undefined);
    let echoed = '';
    socket.on('data', (d: Buffer) => (echoed += d.toString()));
    // Handed over paused: nothing is read (or lost) before the new owner reads.
    expect(socket.isPaused()).toBe(true);
    socket.resume();
    socket.write('ping');
    await expect.poll(() => echoed).toBe('ping');
    // No onComplete or onError: the exchange ended in onUpgrade alone.
    expect(upgrader.outcome.head).toBeUndefined();
    expect(upgrader.outcome.error).toBeUndefined();
    // The pool closing does not touch a connection it handed over.
    await pool.close();
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });

  it('reads any other answer to an upgrade request as a plain answer', async () => {
    const app = await rawApp((socket) => socket.write(answer(['HTTP/1.1 426 Upgrade Required', 'Content-Length: 4'], 'nope')));
    const upgrader = new Upgrader();
    const outcome = await send(poolFor(app.socketPath), { headers: UPGRADE_FIELDS, upgrade: true }, upgrader);
    expect(outcome.head?.status).toBe(426);
    expect(outcome.body.toString()).toBe('nope');
  });

  it('fails a 101 to a request that did not ask to switch, and one that came before the whole body', async () => {
    const app = await rawApp((socket) => socket.write(answer(['HTTP/1.1 101 Switching Protocols', 'Upgrade: echo', 'Connection: Upgrade'])));
    const plain = await send(poolFor(app.socketPath), {}, new Upgrader());
    expect(plain.error?.code).toBe('FERRY_UPSTREAM_BAD_RESPONSE');
    const body = new PassThrough();
    body.write('part');
    const early = await send(poolFor(app.socketPath), { method: 'POST', headers: [...UPGRADE_FIELDS, 'Content-Length', '10'], body, upgrade: true }, new Upgrader());
    expect(early.error?.message).toContain('before it had the whole request body');
  });
});

describe('UpstreamPool: the kept-alive race', () => {
  /**
   * Answers the first request of each connection; closes the connection as the second one
   * arrives, unanswered (what an app closing an idle connection does when a request crosses it):
   * with a reset (destroy) or a FIN (end).
   */
  const closingOnReuse = (how: 'destroy' | 'end' = 'destroy'): Promise<Counted> =>
    rawApp((socket, _data, nth) => {
      if (nth === 0) socket.write(answer(['HTTP/1.1 200 OK', 'Content-Length: 2'], 'ok'));
      else if (how === 'end') socket.end();
      else socket.destroy();
    });

  it.each(['destroy', 'end'] as const)('sends a GET again on a fresh connection when the reused one closes unanswered (%s)', async (how) => {
    const app = await closingOnReuse(how);
    const pool = poolFor(app.socketPath);
    expect((await send(pool)).body.toString()).toBe('ok');
    const again = await send(pool);
    expect(again.error).toBeUndefined();
    expect(again.body.toString()).toBe('ok');
    expect(app.connections()).toBe(2);
  });

  it('sends it again only once', async () => {
    // Every connection after the first closes on its first request: the retry fails too.
    let first = true;
    const app = await rawApp((socket, _data, nth) => {
      if (first && nth === 0) {
        first = false;
        socket.write(answer(['HTTP/1.1 200 OK', 'Content-Length: 2'], 'ok'));
      } else socket.destroy();
    });
    const pool = poolFor(app.socketPath);
    await send(pool);
    const outcome = await send(pool);
    expect(outcome.error).toBeDefined();
    expect(app.connections()).toBe(2);
  });

  it('does not report a refused retry as never sent: the request may have killed the app', async () => {
    // The app dies on the second request (its connection closes unanswered, then nothing listens):
    // ECONNREFUSED would let the proxy send the same request to the next process, and kill it too.
    let server: net.Server | undefined;
    const app = await rawApp((socket, _data, nth) => {
      if (nth === 0) socket.write(answer(['HTTP/1.1 200 OK', 'Content-Length: 2'], 'ok'));
      else {
        server?.close();
        socket.destroy();
      }
    });
    server = servers.at(-1);
    const pool = poolFor(app.socketPath);
    await send(pool);
    const outcome = await send(pool);
    expect(outcome.error).toBeDefined();
    expect((outcome.error as Error & { code?: string }).code).toBe('FERRY_UPSTREAM_CLOSED');
  });

  it('sends a PUT with a buffered body again', async () => {
    const app = await closingOnReuse();
    const pool = poolFor(app.socketPath);
    await send(pool);
    const again = await send(pool, { method: 'PUT', body: Buffer.from('same body') });
    expect(again.body.toString()).toBe('ok');
  });

  it('does not send a POST with a streamed body again: it fails', async () => {
    const app = await closingOnReuse();
    const pool = poolFor(app.socketPath);
    await send(pool);
    const body = new PassThrough();
    const failed = send(pool, { method: 'POST', body });
    body.end('streamed');
    const outcome = await failed;
    expect(outcome.head).toBeUndefined();
    expect(outcome.error).toBeDefined();
    expect(app.connections()).toBe(1);
  });

  it('does not send a POST again even with a buffered body', async () => {
    const app = await closingOnReuse();
    const pool = poolFor(app.socketPath);
    await send(pool);
    const outcome = await send(pool, { method: 'POST', body: Buffer.from('once') });
    expect(outcome.error).toBeDefined();
    expect(app.connections()).toBe(1);
  });
});

describe('UpstreamPool: request bodies', () => {
  /** Echoes what it got: method, framing fields, length and hash of the body. */
  const echoApp = (): Promise<Counted> =>
    httpApp((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ method: req.method, cl: req.headers['content-length'] ?? null, te: req.headers['transfer-encoding'] ?? null, length: body.length, sha: sha(body) }));
      });
    });

  it('sends a streamed body without Content-Length chunked', async () => {
    const app = await echoApp();
    const body = new PassThrough();
    const done = send(poolFor(app.socketPath), { method: 'POST', body });
    body.write('hello ');
    await tick(5);
    body.write('');
    body.end('world');
    const seen = JSON.parse((await done).body.toString());
    expect(seen).toMatchObject({ method: 'POST', cl: null, te: 'chunked', length: 11, sha: sha(Buffer.from('hello world')) });
  });

  it('sends an async iterable body chunked', async () => {
    const app = await echoApp();
    async function* parts(): AsyncGenerator<Buffer> {
      yield Buffer.from('a');
      yield Buffer.from('bc');
    }
    const seen = JSON.parse((await send(poolFor(app.socketPath), { method: 'POST', body: parts() })).body.toString());
    expect(seen).toMatchObject({ te: 'chunked', length: 3 });
  });

  it("passes the request's Content-Length through for a streamed body", async () => {
    const app = await echoApp();
    const body = Readable.from([Buffer.from('12345')]);
    const seen = JSON.parse((await send(poolFor(app.socketPath), { method: 'PUT', headers: ['Host', 'app', 'Content-Length', '5'], body })).body.toString());
    expect(seen).toMatchObject({ method: 'PUT', cl: '5', te: null, length: 5 });
  });

  it('gives a Buffer body its Content-Length, and a POST without a body Content-Length: 0', async () => {
    const app = await echoApp();
    const pool = poolFor(app.socketPath);
    expect(JSON.parse((await send(pool, { method: 'POST', body: Buffer.from('buffered') })).body.toString())).toMatchObject({ cl: '8', length: 8 });
    expect(JSON.parse((await send(pool, { method: 'POST' })).body.toString())).toMatchObject({ cl: '0', length: 0 });
  });

  it('sends a large streamed body with backpressure: the source is read no faster than the app reads', async () => {
    const total = 16 * 1024 * 1024;
    const piece = Buffer.alloc(64 * 1024, 1);
    let produced = 0;
    const source = new Readable({
      read() {
        if (produced >= total) return void this.push(null);
        produced += piece.length;
        this.push(piece);
      },
    });
    let readByApp = 0;
    let producedWhileAppWaited = 0;
    const app = await httpApp((req, res) => {
      // The app takes its time before reading: what Ferry reads meanwhile is bounded by buffers.
      req.pause();
      setTimeout(() => {
        producedWhileAppWaited = produced;
        req.on('data', (c: Buffer) => (readByApp += c.length));
        req.on('end', () => res.end(String(readByApp)));
        req.resume();
      }, 100);
    });
    const outcome = await send(poolFor(app.socketPath), { method: 'POST', body: source });
    expect(outcome.body.toString()).toBe(String(total));
    expect(producedWhileAppWaited).toBeLessThan(total / 2);
  });

  it('fails with the body source error (a body over max-body-size), and stops sending', async () => {
    const app = await echoApp();
    const tooLarge = Object.assign(new Error('too large'), { code: 'FERRY_BODY_TOO_LARGE' });
    async function* parts(): AsyncGenerator<Buffer> {
      yield Buffer.from('a');
      await tick(5);
      throw tooLarge;
    }
    const outcome = await send(poolFor(app.socketPath), { method: 'POST', body: parts() });
    expect(outcome.error).toBe(tooLarge);
  });

  it('does not reuse a connection whose app answered before taking the whole body', async () => {
    const app = await httpApp((_req, res) => res.end('early'));
    const pool = poolFor(app.socketPath);
    const body = new PassThrough();
    const outcome = await send(pool, { method: 'POST', body });
    expect(outcome.body.toString()).toBe('early');
    // What the app did not take is read and dropped: the client's connection goes on.
    const dropped = new Promise((resolve) => body.once('end', resolve));
    body.end('late');
    await dropped;
    expect(pool.connectionCounts.idle).toBe(0);
  });
});

describe('UpstreamPool: out-of-band requests, close and destroy', () => {
  it('request() gives the status once the body has been read and dropped', async () => {
    let seen: { method?: string; cl?: string } = {};
    const app = await httpApp((req, res) => {
      seen = { method: req.method, cl: req.headers['content-length'] };
      res.statusCode = 202;
      res.end('dropped');
    });
    const pool = poolFor(app.socketPath);
    expect(await pool.request({ method: 'POST', path: '/oob', headers: ['Host', 'localhost', 'X-Ferry-Oob-Work', '1'] })).toEqual({ status: 202 });
    expect(seen).toEqual({ method: 'POST', cl: '0' });
    expect(pool.connectionCounts.idle).toBe(1);
  });

  it('request() rejects on a refused connection', async () => {
    await expect(poolFor(path.join(dir, 'missing.sock')).request({ method: 'POST', path: '/', headers: [] })).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('close() lets requests in flight finish, closes every connection, then refuses new ones', async () => {
    let release: (() => void) | undefined;
    const app = await httpApp((req, res) => {
      if (req.url === '/slow') release = () => res.end('slow done');
      else res.end('quick');
    });
    const pool = poolFor(app.socketPath);
    await send(pool);
    const slow = send(pool, { path: '/slow' });
    while (release === undefined) await tick(5);
    let closed = false;
    const closing = pool.close().then(() => (closed = true));
    await tick();
    expect(closed).toBe(false);
    release();
    expect((await slow).body.toString()).toBe('slow done');
    await closing;
    expect(pool.connectionCounts).toEqual({ busy: 0, idle: 0 });
    expect((await send(pool)).error?.code).toBe('FERRY_UPSTREAM_POOL_CLOSED');
  });

  it('destroy() fails the requests in flight', async () => {
    const app = await httpApp(() => undefined);
    const pool = poolFor(app.socketPath);
    const pending = send(pool);
    while (app.connections() === 0) await tick(5);
    await pool.destroy();
    expect((await pending).error).toBeDefined();
  });
});
