// The front (src/core/front) in the test process: started on port 0 or a unix socket in a temp
// dir with a handler function, so that proxy behaviour is tested in milliseconds on real sockets.
// Every front started here is closed by closeFronts() (call it in afterEach), every client by
// its own close(). Also a kept-open raw client, for keep-alive and pipelining.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ClientLimits } from '../../src/lib/config.js';
import { createFrontServer, type FrontServer, type FrontServerOptions } from '../../src/core/front/server.js';
import type { Exchange, ExchangeOutcome, FrontHandler } from '../../src/core/front/exchange.js';
import { nextRequestId } from '../../src/core/proxy/error-responses.js';
import { parseRawResponses, type RawResponse } from './raw-http.js';

export interface Front {
  front: FrontServer;
  /** The port on 127.0.0.1, or the unix socket's path: what rawExchange() takes. */
  to: number | string;
  close(): Promise<void>;
}

/** Limits small enough for timeouts to be tested in a fraction of a second. */
export const TEST_LIMITS: ClientLimits = { maxHeaderBytes: 16_384, headerTimeoutMs: 0, bodyTimeoutMs: 0, maxBodyBytes: 0 };

export interface StartOptions extends Partial<Omit<FrontServerOptions, 'handler' | 'limits'>> {
  limits?: Partial<ClientLimits>;
  /** Listen on a unix socket in a temp dir instead of 127.0.0.1:0. */
  unix?: boolean;
}

const started: Front[] = [];

export async function startFront(handler: FrontHandler, opts: StartOptions = {}): Promise<Front> {
  const { limits, unix, ...rest } = opts;
  const front = createFrontServer({ nextRequestId, checkIntervalMs: 20, ...rest, handler, limits: { ...TEST_LIMITS, ...limits } });
  const dir = unix ? fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-front-')) : undefined;
  const socketPath = dir ? path.join(dir, 'front.sock') : undefined;
  await new Promise<void>((resolve, reject) => {
    front.server.once('error', reject);
    if (socketPath) front.server.listen(socketPath, resolve);
    else front.server.listen(0, '127.0.0.1', resolve);
  });
  const to = socketPath ?? (front.server.address() as net.AddressInfo).port;
  const handle: Front = {
    front,
    to,
    close: async () => {
      front.destroyAll();
      if (front.server.listening) await new Promise((resolve) => front.server.close(resolve));
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  started.push(handle);
  return handle;
}

/** Closes every front started since the last call, and waits until their connections are gone. */
export async function closeFronts(): Promise<void> {
  for (const front of started.splice(0)) {
    await front.close();
    const deadline = Date.now() + 2_000;
    while (front.front.connections.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** What a handler saw of one request. */
export interface Seen {
  method: string;
  target: string;
  path: string;
  version: string;
  headers: [string, string][];
  body: string;
  outcome?: ExchangeOutcome;
}

/**
 * A handler that reads each body whole, records the request, and answers 200 with
 * `saw METHOD PATH BODY` (Content-Length); `answer` may answer instead (it gets the body too).
 */
export function recordingHandler(seen: Seen[], answer?: (exchange: Exchange, body: string) => void): FrontHandler {
  return (exchange) => {
    const record: Seen = {
      method: exchange.method,
      target: exchange.head.target,
      path: exchange.path,
      version: exchange.head.version,
      headers: exchange.head.fields.map((f) => [f.name, f.value]),
      body: '',
    };
    seen.push(record);
    const parts: Buffer[] = [];
    exchange.readBody({
      onBodyData: (chunk) => void parts.push(Buffer.from(chunk)),
      onBodyEnd: (_trailers, ex) => {
        record.body = Buffer.concat(parts).toString('latin1');
        if (answer) return answer(ex, record.body);
        ex.writeHead(200, 'OK', ['Content-Type', 'text/plain']);
        ex.end(Buffer.from(`saw ${ex.method} ${ex.path} ${record.body}`, 'latin1'));
      },
      onDone: (outcome) => void (record.outcome = outcome),
    });
  };
}

/** A client socket kept open: write requests, wait for answers, see whether the server closed it. */
export class RawClient {
  readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  closed = false;
  readonly connected: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(to: number | string) {
    this.socket = typeof to === 'string' ? net.connect(to) : net.connect(to, '127.0.0.1');
    this.connected = new Promise((resolve) => this.socket.once('connect', resolve));
    this.socket.on('data', (data: Buffer) => {
      this.chunks.push(data);
      this.wake();
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  get received(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  responses(methods: readonly string[] = []): RawResponse[] {
    return parseRawResponses(this.received, methods);
  }

  write(text: string | Buffer): void {
    this.socket.write(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
  }

  /** Waits until `check` holds (re-checked on every byte, on close, and every 10 ms), or fails after timeoutMs. */
  async until(check: (client: RawClient) => boolean, what: string, timeoutMs = 3_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.received.slice(0, 500))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 10);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for `count` complete answers in all (Content-Length framed). */
  async answers(count: number, methods: readonly string[] = []): Promise<RawResponse[]> {
    await this.until((c) => c.responses(methods).length >= count, `${count} answers`);
    return this.responses(methods);
  }

  async waitClosed(timeoutMs = 3_000): Promise<void> {
    await this.until((c) => c.closed, 'the server to close the connection', timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}

const clients: RawClient[] = [];

/** A RawClient closed by closeClients(). */
export async function connectClient(to: number | string): Promise<RawClient> {
  const client = new RawClient(to);
  clients.push(client);
  await client.connected;
  return client;
}

export function closeClients(): void {
  for (const client of clients.splice(0)) client.close();
}
