// The kept-alive connections to one app process (one pool per WorkerProcess, so the process's
// death closes exactly its own sockets). One connection per request in flight, as many as there
// are requests (Node apps have no concurrency limit to respect); idle ones are reused last in,
// first out, so that a quiet spell lets the rest expire. An idle connection is closed before the
// app would close it: the app's `Keep-Alive: timeout=N` less a second, else IDLE_TIMEOUT_MS,
// below Node's default keepAliveTimeout (5 s).

import type { UpstreamAddress } from '../spawn/spawner.js';
import { UpstreamConnection, type ConnectionOwner } from './upstream-connection.js';
import { UpstreamError } from './upstream-error.js';
import { UpstreamExchange, type ExchangePool, type UpstreamHandler, type UpstreamRequest } from './upstream-exchange.js';
import type { ResponseHead } from '../engine/response-head.js';

/** How long a connection may stay idle when the app says nothing about it. */
export const IDLE_TIMEOUT_MS = 4000;
/** How often idle connections past their time are closed (checkout never takes one anyway). */
const SWEEP_INTERVAL_MS = 1000;

export interface UpstreamPoolOptions {
  idleTimeoutMs?: number;
}

/** A request made for Ferry itself (out-of-band work): its answer's status, its body read and dropped. */
export interface OutOfBandAnswer {
  status: number;
}

export class UpstreamPool implements ExchangePool, ConnectionOwner {
  /** Idle connections, the most recently used last. */
  private readonly idle: UpstreamConnection[] = [];
  /** Connections carrying an exchange (or connecting for one). */
  private readonly busy = new Set<UpstreamConnection>();
  private readonly idleTimeoutMs: number;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;
  private whenEmpty: (() => void) | undefined;
  readonly defaultHost: string;

  constructor(
    readonly address: UpstreamAddress,
    options: UpstreamPoolOptions = {},
  ) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    this.defaultHost = 'socketPath' in address ? 'localhost' : `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
  }

  /** Connections open now: [carrying a request, idle]. */
  get connectionCounts(): { busy: number; idle: number } {
    return { busy: this.busy.size, idle: this.idle.length };
  }

  /** Sends a request; the handler follows its answer. The exchange is returned to abort or resume it. */
  dispatch(request: UpstreamRequest, handler: UpstreamHandler): UpstreamExchange {
    const exchange = new UpstreamExchange(this, request, handler);
    // Failures before any connection are reported asynchronously, as a refused connection is.
    if (this.closed) process.nextTick(() => exchange.failUnstarted(new UpstreamError('FERRY_UPSTREAM_POOL_CLOSED', 'the app process is no longer taking requests')));
    else if (!exchange.writable) process.nextTick(() => exchange.failUnstarted(new UpstreamError('FERRY_UPSTREAM_BAD_REQUEST', 'a request field has CR, LF or NUL in it')));
    else exchange.start(this.checkout());
    return exchange;
  }

  /**
   * Out-of-band work and the like: the answer's status once its whole body has come. With
   * `timeoutMs`, an answer not whole by then fails with FERRY_UPSTREAM_TIMEOUT (its connection closed).
   */
  request(request: UpstreamRequest, timeoutMs?: number): Promise<OutOfBandAnswer> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = <T>(fn: (value: T) => void) => (value: T): void => {
        clearTimeout(timer);
        fn(value);
      };
      const exchange = this.dispatch(request, new StatusOnlyHandler(settle(resolve), settle(reject)));
      if (timeoutMs !== undefined) timer = setTimeout(() => exchange.abort(new UpstreamError('FERRY_UPSTREAM_TIMEOUT', `no answer within ${timeoutMs} ms`)), timeoutMs);
    });
  }

  connectFresh(): UpstreamConnection | undefined {
    if (this.closed) return undefined;
    const connection = new UpstreamConnection(this.address, this, this.idleTimeoutMs);
    this.busy.add(connection);
    return connection;
  }

  release(connection: UpstreamConnection, reusable: boolean): void {
    this.busy.delete(connection);
    if (reusable && !this.closed && !connection.closed) {
      connection.idleSinceMs = Date.now();
      this.idle.push(connection);
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();
    } else {
      connection.destroy();
    }
    this.checkEmpty();
  }

  handOver(connection: UpstreamConnection): void {
    this.busy.delete(connection);
    this.checkEmpty();
  }

  onConnectionClosed(connection: UpstreamConnection): void {
    this.busy.delete(connection);
    const at = this.idle.lastIndexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    this.checkEmpty();
  }

  /** Graceful: no new requests; those in flight finish, then every connection is closed. */
  close(): Promise<void> {
    this.closed = true;
    for (const connection of this.idle.splice(0)) connection.destroy();
    this.stopSweeping();
    if (this.busy.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.whenEmpty;
      this.whenEmpty = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** At once: every connection is closed, the exchanges on them fail. */
  destroy(): Promise<void> {
    this.closed = true;
    for (const connection of this.idle.splice(0)) connection.destroy();
    for (const connection of [...this.busy]) connection.destroy();
    this.stopSweeping();
    return Promise.resolve();
  }

  private checkout(): UpstreamConnection {
    const now = Date.now();
    for (;;) {
      const connection = this.idle.pop();
      if (connection === undefined) break;
      if (now - connection.idleSinceMs < connection.keepAliveMs) {
        this.busy.add(connection);
        return connection;
      }
      connection.destroy();
    }
    return this.connectFresh() as UpstreamConnection;
  }

  /** Closes idle connections past their time, oldest first (they are at the start). */
  private sweep(): void {
    const now = Date.now();
    while (this.idle.length > 0) {
      const oldest = this.idle[0] as UpstreamConnection;
      if (now - oldest.idleSinceMs < oldest.keepAliveMs) break;
      this.idle.shift();
      oldest.destroy();
    }
    if (this.idle.length === 0) this.stopSweeping();
  }

  private stopSweeping(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private checkEmpty(): void {
    if (this.idle.length === 0) this.stopSweeping();
    if (!this.closed || this.busy.size > 0 || this.whenEmpty === undefined) return;
    const done = this.whenEmpty;
    this.whenEmpty = undefined;
    done();
  }
}

/** Follows an out-of-band answer for its status only. */
class StatusOnlyHandler implements UpstreamHandler {
  private status = 0;

  constructor(
    private readonly resolve: (answer: OutOfBandAnswer) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  onHead(head: ResponseHead): void {
    this.status = head.status;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {
    this.resolve({ status: this.status });
  }

  onError(err: Error): void {
    this.reject(err);
  }
}
