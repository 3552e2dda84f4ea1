// The stage proxy in process, for what it does around a request besides forwarding
// it: fault injection (the accept and upstream-connect points), the access log (a line per answer
// of every kind), upload buffering (a slow upload holds no process) and response buffering (a slow
// reader holds no process). The front harness on 127.0.0.1:0, a real Pool over the FakeSpawner,
// whose processes "listen" on an in-process node:http app on a unix socket.

import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AccessLog } from '../../../../../src/core/access-log/access-log.js';
import { FaultInjector, type FaultPoint } from '../../../../../src/core/faults.js';
import { BufferDir } from '../../../../../src/core/proxy/buffer-dir.js';
import { HealthState } from '../../../../../src/core/proxy/health-check.js';
import type { StageContext } from '../../../../../src/core/proxy/stages/context.js';
import { CacheFront } from '../../../../../src/core/turbocache/cache-front.js';
import { Turbocache } from '../../../../../src/core/turbocache/turbocache.js';
import { type PoolLimits } from '../../../../../src/lib/config.js';
import { connectClient, type RawClient } from '../../../../helpers/front-harness.js';
import { StageProxies, stopAppServer } from '../../../../helpers/stage-proxy.js';

let dir: string;
let appSocket: string;
let app: http.Server;
/** What the app saw of each request, in order. */
const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer; atMs: number; bufferFiles: string[] }[] = [];
/** The buffer directory whose files the app notes as it gets each whole body. */
let watchedDir: string | undefined;
/** When the app wrote the last byte of each /big answer. */
const bigDone: number[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-slow-'));
  appSocket = path.join(dir, 'app.sock');
  app = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      const bufferFiles = watchedDir === undefined ? [] : fs.readdirSync(watchedDir);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, atMs: Date.now(), bufferFiles });
      if (req.url?.startsWith('/big')) {
        // ?mb=N MiB (8 by default) as fast as the proxy takes it.
        const bytes = Number(new URL(req.url, 'http://x').searchParams.get('mb') ?? 8) * 1024 * 1024;
        res.writeHead(200, { 'Content-Length': String(bytes) });
        res.end(Buffer.alloc(bytes, 0x62), () => bigDone.push(Date.now()));
      } else if (req.url?.startsWith('/cached')) {
        res.writeHead(200, { 'Cache-Control': 'public, max-age=60', 'Content-Length': '6' });
        res.end('cached');
      } else if (req.url?.startsWith('/slow')) {
        setTimeout(() => res.end('slow'), 300);
      } else {
        res.end(`${req.method} ${req.url} ${body.length}`);
      }
    });
  });
  await new Promise<void>((resolve) => app.listen(appSocket, resolve));
});

afterAll(async () => {
  await stopAppServer(app, dir);
});

const proxies = new StageProxies(() => appSocket);
const accessLogs: AccessLog[] = [];

afterEach(async () => {
  await proxies.stopAll();
  for (const log of accessLogs.splice(0)) log.close();
  seen.length = 0;
  bigDone.length = 0;
  watchedDir = undefined;
});

interface Setup {
  limits?: Partial<PoolLimits>;
  cache?: boolean;
  faults?: Partial<Record<FaultPoint, number>>;
  accessLog?: boolean;
  bufferUploads?: boolean;
  /** Bytes held for a slow client before the app is slowed down; 0 = plain backpressure. */
  highWatermarkBytes?: number;
  /** --health-check-path /health. */
  health?: boolean;
}

interface Proxy {
  port: number;
  ctx: StageContext;
  bufferDir: BufferDir;
  bufferFiles(): string[];
  /** The access log's lines so far (flushed first), as JSON objects. */
  accessLines(): Record<string, unknown>[];
}

async function proxy(setup: Setup = {}): Promise<Proxy> {
  const instanceDir = fs.mkdtempSync(path.join(dir, 'instance-'));
  const bufferDir = BufferDir.prepare(instanceDir);
  const accessFile = path.join(instanceDir, 'access.jsonl');
  let accessLog: AccessLog | undefined;
  if (setup.accessLog) {
    accessLog = new AccessLog({ target: { path: accessFile, appUids: [] }, format: 'json', clientOf: (address) => address });
    accessLogs.push(accessLog);
  }
  const faults = setup.faults ? new FaultInjector({ probabilities: setup.faults, seed: 1, seedChosen: false }) : undefined;
  faults?.arm();
  const highWatermarkBytes = setup.highWatermarkBytes ?? 0;
  const { port, ctx } = await proxies.start({
    app: { limits: setup.limits },
    context: () => ({
      cache: setup.cache ? new CacheFront(new Turbocache({ maxBytes: 1_000_000, maxEntryBytes: 100_000 }), { debugHeader: true }) : undefined,
      health: setup.health ? { path: '/health', state: Object.assign(new HealthState(), { serving: true }) } : undefined,
      bufferUploads: setup.bufferUploads === true,
      bufferDir,
      responseBuffer: highWatermarkBytes > 0 ? { highWatermarkBytes, dir: bufferDir } : undefined,
      accessLog,
      faults,
      faultedConnections: faults ? new WeakSet() : undefined,
    }),
  });
  const buffersDir = bufferDir.dir;
  return {
    port,
    ctx,
    bufferDir,
    bufferFiles: () => fs.readdirSync(buffersDir),
    accessLines: () => {
      accessLog?.flushSync();
      if (!fs.existsSync(accessFile)) return [];
      return fs.readFileSync(accessFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}

/** Sends `text` on a new connection and waits until the server closes it. */
async function exchangeUntilClosed(port: number, text: string): Promise<RawClient> {
  const client = await connectClient(port);
  client.write(text);
  await client.waitClosed();
  return client;
}

describe('stage proxy: fault injection', () => {
  it('accept: the first request of a faulted connection gets 503 with Retry-After and a request id, and nothing behind it is taken', async () => {
    const { port, ctx } = await proxy({ faults: { accept: 1 } });
    const client = await exchangeUntilClosed(port, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    const [answer, ...more] = client.responses();
    expect(more).toEqual([]);
    expect(answer?.status).toBe(503);
    expect(answer?.headers['retry-after']).toBe('1');
    expect(answer?.headers.connection).toBe('close');
    expect(answer?.body).toContain('injected fault: accept');
    expect(answer?.body).toContain(`Request id: ${answer?.headers['x-request-id'] as string}`);
    // A body announced behind the refusal is never read for the app either.
    const post = await exchangeUntilClosed(port, 'POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
    expect(post.responses()[0]?.status).toBe(503);
    expect(seen).toEqual([]);
    expect(ctx.faults?.fired.accept).toBe(2);
    expect(ctx.tracker.unrouted.byClass[4]).toBe(2);
  });

  it('accept: a connection the fault did not fall on is served as usual', async () => {
    const { port } = await proxy({ faults: { accept: 0 } });
    const client = await connectClient(port);
    client.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    const [answer] = await client.answers(1);
    expect(answer?.status).toBe(200);
  });

  it('upstream-connect: the request is tried on 3 processes, each "refusing", then gets 502', async () => {
    const { port, ctx } = await proxy({ faults: { 'upstream-connect': 1 } });
    const client = await connectClient(port);
    client.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    const [answer] = await client.answers(1);
    expect(answer?.status).toBe(502);
    expect(ctx.faults?.fired['upstream-connect']).toBe(3);
    expect(seen).toEqual([]);
  });
});

describe('stage proxy: the access log', () => {
  it('writes one line per answer: proxied (miss), cache hit, door refusal, parser refusal, OPTIONS *, and a client that left (499)', async () => {
    const { port, accessLines } = await proxy({ accessLog: true, cache: true });
    const client = await connectClient(port);
    client.write('GET /cached?x=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: ua "1"\r\nReferer: http://ref/\r\n\r\nGET /cached?x=1 HTTP/1.1\r\nHost: x\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n');
    const answers = await client.answers(3);
    expect(answers.map((a) => [a.status, a.headers['x-ferry-cache']])).toEqual([[200, 'miss'], [200, 'hit'], [200, undefined]]);
    const refused = await exchangeUntilClosed(port, 'POST /ferry/oob-work HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    const malformed = await exchangeUntilClosed(port, 'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    const leaving = await connectClient(port);
    leaving.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await vi.waitFor(() => expect(seen.some((s) => s.url === '/slow')).toBe(true));
    leaving.close();

    await vi.waitFor(() => expect(accessLines()).toHaveLength(6));
    const lines = accessLines();
    const pid = (lines[0] as { pid: number }).pid;
    expect(pid).toEqual(expect.any(Number));
    expect(lines.map((l) => [l.method, l.target, l.status, l.app, l.cache])).toEqual([
      ['GET', '/cached?x=1', 200, 'hello', 'miss'],
      ['GET', '/cached?x=1', 200, 'hello', 'hit'],
      ['OPTIONS', '*', 200, undefined, undefined],
      ['POST', '/ferry/oob-work', 404, undefined, undefined],
      [undefined, undefined, 400, undefined, undefined],
      ['GET', '/slow', 499, 'hello', 'miss'],
    ]);
    expect(lines[0]).toMatchObject({ client: '127.0.0.1', protocol: 'HTTP/1.1', referer: 'http://ref/', userAgent: 'ua "1"', reqId: expect.any(String) });
    expect(lines[1]).not.toHaveProperty('pid');
    expect(lines[5]).toMatchObject({ pid, bytes: 0 });
    // Bytes sent, the head included: each pipelined answer its own.
    const raw = client.received;
    const sizes = [raw.indexOf('HTTP/1.1', 1), raw.indexOf('HTTP/1.1', raw.indexOf('HTTP/1.1', 1) + 1)];
    expect(lines[0]!.bytes).toBe(sizes[0]);
    expect(lines[1]!.bytes).toBe(sizes[1]! - sizes[0]!);
    expect(lines[2]!.bytes).toBe(raw.length - sizes[1]!);
    expect(lines[3]!.bytes).toBe(refused.received.length);
    expect(lines[4]!.bytes).toBe(malformed.received.length);
    expect(new Set(lines.map((l) => l.reqId)).size).toBe(6);
  });

  it('logs the answer to a connection the accept fault fell on', async () => {
    const { port, accessLines } = await proxy({ accessLog: true, faults: { accept: 1 } });
    await exchangeUntilClosed(port, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n');
    await vi.waitFor(() => expect(accessLines()).toHaveLength(1));
    expect(accessLines()[0]).toMatchObject({ method: 'GET', target: '/a', status: 503 });
  });
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('stage proxy: the access log, upgrades and health checks', () => {
  it('logs a health check answered by the core, without a request id or an app', async () => {
    const { port, accessLines } = await proxy({ accessLog: true, health: true });
    const client = await connectClient(port);
    client.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    const [answer] = await client.answers(1);
    expect(answer?.status).toBe(200);
    await vi.waitFor(() => expect(accessLines()).toHaveLength(1));
    const [line] = accessLines();
    expect(line).toMatchObject({ method: 'GET', target: '/health', status: 200, bytes: client.received.length });
    expect(line).not.toHaveProperty('app');
    expect(line).not.toHaveProperty('reqId');
    expect(seen).toEqual([]);
  });


  it('logs the answer to an Upgrade request (refused by this engine for now) with its status and bytes', async () => {
    const { port, accessLines } = await proxy({ accessLog: true });
    const client = await exchangeUntilClosed(port, 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    const status = client.responses()[0]?.status;
    await vi.waitFor(() => expect(accessLines()).toHaveLength(1));
    expect(accessLines()[0]).toMatchObject({ method: 'GET', target: '/ws', status, bytes: client.received.length });
  });
});

describe('stage proxy: upload buffering', () => {
  it('reads a slow chunked upload whole before the process of concurrency 1 sees it, then sends it with Content-Length', async () => {
    const { port, ctx, bufferDir, bufferFiles } = await proxy({ limits: { concurrency: 1 } });
    watchedDir = bufferDir.dir;
    const client = await connectClient(port);
    client.write('POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    const slice = Buffer.alloc(50_000, 0x75);
    for (let i = 0; i < 4; i++) {
      client.write(`${slice.length.toString(16)}\r\n`);
      client.write(slice);
      client.write('\r\n');
      await sleep(60);
      // Midway: held by the core (past 64 KiB, in a file), no process given, the app has seen nothing.
      if (i === 2) {
        await vi.waitFor(() => expect(ctx.tracker.inspect()).toMatchObject([{ path: '/up', state: 'receiving', pid: null }]));
        expect(ctx.tracker.inspect()[0]!.bufferedDiskBytes).toBeGreaterThan(64 * 1024);
        expect(bufferFiles().filter((f) => f.endsWith('.request'))).toHaveLength(1);
        expect(seen).toEqual([]);
      }
    }
    const lastSentMs = Date.now();
    client.write('0\r\n\r\n');
    const [answer] = await client.answers(1);
    expect(answer?.body).toBe('POST /up 200000');
    const got = seen[0]!;
    expect(got.atMs).toBeGreaterThanOrEqual(lastSentMs);
    expect(got.headers['content-length']).toBe('200000');
    expect(got.headers['transfer-encoding']).toBeUndefined();
    expect(got.body.equals(Buffer.alloc(200_000, 0x75))).toBe(true);
    // Whole, the body leaves the directory (held by a descriptor): none is there after its answer,
    // which the client may read before the core has run another line.
    expect(got.bufferFiles).toEqual([]);
    expect(bufferFiles()).toEqual([]);
    expect(client.closed).toBe(false);
  });

  it('streams the body to a process of unlimited concurrency, and buffers it with --buffer-uploads', async () => {
    const streamed = await proxy();
    const a = await connectClient(streamed.port);
    a.write('POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello');
    await vi.waitFor(() => expect(streamed.ctx.tracker.inspect()).toMatchObject([{ state: 'forwarding' }]));
    a.write('world');
    expect((await a.answers(1))[0]?.body).toBe('POST /s 10');

    const buffered = await proxy({ bufferUploads: true });
    const b = await connectClient(buffered.port);
    b.write('POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello');
    await vi.waitFor(() => expect(buffered.ctx.tracker.inspect()).toMatchObject([{ state: 'receiving' }]));
    b.write('world');
    expect((await b.answers(1))[0]?.body).toBe('POST /b 10');
  });

  it('removes the file of a client that leaves mid-upload; the app never sees the request', async () => {
    const { port, ctx, bufferDir, bufferFiles } = await proxy({ limits: { concurrency: 1 } });
    watchedDir = bufferDir.dir;
    const client = await connectClient(port);
    client.write('POST /gone HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n');
    client.write(Buffer.alloc(200_000, 0x67));
    await vi.waitFor(() => expect(bufferFiles()).toHaveLength(1));
    client.close();
    await vi.waitFor(() => expect(bufferFiles()).toEqual([]));
    await vi.waitFor(() => expect(ctx.tracker.inFlight).toBe(0));
    expect(seen).toEqual([]);
  });
});

/** A client that sends one request and reads nothing until told to; it counts what it gets. */
class PausedReader {
  readonly socket: net.Socket;
  chunks: Buffer[] = [];
  received = 0;
  ended: Promise<void>;

  constructor(port: number, text: string) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.received += chunk.length;
    });
    this.ended = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.write(text);
    this.socket.pause();
  }

  body(): Buffer {
    const all = Buffer.concat(this.chunks);
    return all.subarray(all.indexOf('\r\n\r\n') + 4);
  }
}

const readers: PausedReader[] = [];
afterEach(() => {
  for (const reader of readers.splice(0)) reader.socket.destroy();
});

describe('stage proxy: response buffering', () => {
  it('takes a 24 MiB answer as fast as the app writes it and frees the session while the client has not read it; the client then gets every byte', async () => {
    const { port, ctx, bufferFiles } = await proxy({ highWatermarkBytes: 64 * 1024 * 1024 });
    const reader = new PausedReader(port, 'GET /big?mb=24 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    readers.push(reader);
    await vi.waitFor(() => expect(bigDone).toHaveLength(1), { timeout: 5_000 });
    const worker = ctx.pool.groups[0]!.workers[0]!;
    await vi.waitFor(() => expect(worker.sessions).toBe(0));
    // The rest is held for the client: mostly on disk (past 1 MiB in memory), shown in status.
    const [draining] = ctx.tracker.inspect();
    expect(draining).toMatchObject({ path: '/big?mb=24', state: 'draining' });
    expect(draining!.bufferedMemoryBytes + draining!.bufferedDiskBytes).toBeGreaterThan(8 * 1024 * 1024);
    expect(bufferFiles().filter((f) => f.endsWith('.response'))).toHaveLength(1);
    expect(reader.received).toBeLessThan(16 * 1024 * 1024);

    reader.socket.resume();
    await reader.ended;
    const body = reader.body();
    expect(body.length).toBe(24 * 1024 * 1024);
    expect(body.every((b) => b === 0x62)).toBe(true);
    expect(bufferFiles()).toEqual([]);
    await vi.waitFor(() => expect(ctx.tracker.inFlight).toBe(0));
  });

  it('without response buffering, a client that does not read holds the session (plain backpressure)', async () => {
    const { port, ctx } = await proxy({ highWatermarkBytes: 0 });
    const reader = new PausedReader(port, 'GET /big?mb=24 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    readers.push(reader);
    await vi.waitFor(() => expect(ctx.tracker.inspect()).toMatchObject([{ state: 'responding' }]));
    await sleep(300);
    expect(bigDone).toEqual([]);
    expect(ctx.pool.groups[0]!.workers[0]!.sessions).toBe(1);
    reader.socket.resume();
    await reader.ended;
    expect(reader.body().length).toBe(24 * 1024 * 1024);
  });

  it('removes the spill file of a client that leaves mid-download', async () => {
    const { port, ctx, bufferFiles } = await proxy({ highWatermarkBytes: 64 * 1024 * 1024 });
    const reader = new PausedReader(port, 'GET /big?mb=24 HTTP/1.1\r\nHost: x\r\n\r\n');
    readers.push(reader);
    await vi.waitFor(() => expect(bufferFiles().some((f) => f.endsWith('.response'))).toBe(true));
    reader.socket.destroy();
    await vi.waitFor(() => expect(bufferFiles()).toEqual([]));
    await vi.waitFor(() => expect(ctx.tracker.inFlight).toBe(0));
    expect(ctx.pool.groups[0]!.workers[0]!.sessions).toBe(0);
  });
});
