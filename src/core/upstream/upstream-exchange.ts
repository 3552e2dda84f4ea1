// One request to an app process and its answer, on one kept-alive connection: the head written
// once, the body after it (a Buffer with the head, a stream once connected, with backpressure),
// then the answer read by its framing (engine/response-head.ts, engine/body.ts) and handed to the
// handler piece by piece as it comes. The handler sees no front type, so that the proxy and the pool
// (an out-of-band work request) drive it alike.
//
// A request written to a reused connection may meet the app closing that connection as it was
// idle (the kept-alive race, RFC 9112 §9.3.1): when no byte of the answer came and the request can
// be sent again unchanged (an idempotent method, no body or a Buffer), it is sent once more on a
// fresh connection.
//
// A request that asks to switch protocols (Upgrade) and gets 101 once its body is all sent hands
// its connection over: out of the pool for good, its socket and the bytes read past the 101's head
// to the handler (a tunnel), never back to the idle list.

import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { createBodyDecoder, type BodyDecoder } from '../engine/body.js';
import type { ResponseHead } from '../engine/response-head.js';
import { BodySender, type BodySenderOwner } from './body-sender.js';
import { writeRequestHead, type RequestBodyFraming } from './request-head.js';
import type { ConnectionRider, UpstreamConnection } from './upstream-connection.js';
import { UpstreamError } from './upstream-error.js';

export type UpstreamBody = Buffer | Readable | AsyncIterable<Buffer>;

export interface UpstreamRequest {
  method: string;
  /** The origin-form target. */
  path: string;
  /** Flat [name, value, ...], in order; Content-Length passes through, Transfer-Encoding must not be there. */
  headers: readonly string[];
  /** Nothing, a Buffer, or a stream read only once the connection is made. */
  body?: UpstreamBody | null | undefined;
  /** It asks to switch protocols (Upgrade in its fields): a 101 goes to the handler's onUpgrade. */
  upgrade?: boolean;
}

/** Who follows an exchange. Every exchange ends in exactly one of onComplete, onError and onUpgrade. */
export interface UpstreamHandler {
  /** A 1xx answer other than 101 (100 Continue, 103 Early Hints): the final one follows. */
  onInterim?(head: ResponseHead): void;
  /** The final answer's head; its body follows through onData. */
  onHead(head: ResponseHead): void;
  /** A piece of the body (a view of the socket's bytes: copy it to keep it). false: stop reading the app until resume(). */
  onData(chunk: Buffer): boolean;
  /** The whole answer has come. */
  onComplete(): void;
  /** The exchange failed, or was aborted with this error; after onHead, the answer is cut off. */
  onError(err: Error & { code?: string }): void;
  /**
   * A 101 to an `upgrade` request: the app's socket is the handler's now (out of the pool, no
   * listener left on it: the handler listens for its errors at once), with the bytes that came
   * after the head. Without this method, a 101 fails the exchange.
   */
  onUpgrade?(head: ResponseHead, socket: Socket, rest: Buffer): void;
}

/** What an exchange needs of its pool. */
export interface ExchangePool {
  /** A new connection, not an idle one (for the retry after the kept-alive race); undefined once closed. */
  connectFresh(): UpstreamConnection | undefined;
  /** The exchange is done with the connection: back to the idle list, or closed. */
  release(connection: UpstreamConnection, reusable: boolean): void;
  /** The connection leaves the pool for good, open (a 101 made it a tunnel). */
  handOver(connection: UpstreamConnection): void;
  /** The Host a request without one gets (HTTP/1.1 requires one): `localhost`, or the app's TCP address. */
  readonly defaultHost: string;
}

type ExchangeState = 'awaiting-head' | 'reading-body' | 'done';

/** RFC 9110 §9.2.2. */
function isIdempotent(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'PUT' || method === 'DELETE' || method === 'TRACE';
}

/** A Keep-Alive `timeout=N` hint (seconds), or undefined. */
function keepAliveTimeoutSeconds(value: string): number | undefined {
  const match = /(?:^|[\s,;])timeout\s*=\s*(\d{1,6})/i.exec(value);
  return match ? Number(match[1]) : undefined;
}

/** Idle connections are closed this long before the app's announced timeout, so that a request never races it. */
const KEEP_ALIVE_MARGIN_MS = 1000;
/** The longest an idle connection is kept, whatever the app announces. */
const MAX_KEEP_ALIVE_MS = 60_000;

export class UpstreamExchange implements BodySenderOwner, ConnectionRider {
  private state: ExchangeState = 'awaiting-head';
  private connection: UpstreamConnection | undefined;
  private readonly headText: string;
  private readonly framing: RequestBodyFraming;
  private sender: BodySender | undefined;
  private bodySent = false;
  /** A byte of the answer came: from here on the request is not sent again. */
  private answered = false;
  private retried = false;
  private paused = false;
  private head: ResponseHead | undefined;
  private decoder: BodyDecoder | undefined;

  constructor(
    private readonly pool: ExchangePool,
    private readonly request: UpstreamRequest,
    private readonly handler: UpstreamHandler,
  ) {
    const { body } = request;
    const bodyLength = body === undefined || body === null ? undefined : Buffer.isBuffer(body) ? body.length : -1;
    const written = writeRequestHead(request.method, request.path, request.headers, bodyLength, pool.defaultHost);
    this.headText = written?.text ?? '';
    this.framing = written?.framing ?? 'none';
  }

  /** The head could be written (no CR, LF or NUL where they do not belong). */
  get writable(): boolean {
    return this.headText !== '';
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** Sends the request on this connection (connected, or connecting: its first write waits for it). */
  start(connection: UpstreamConnection): void {
    this.connection = connection;
    connection.exchange = this;
    const { socket } = connection;
    const { body } = this.request;
    if (Buffer.isBuffer(body)) {
      socket.cork();
      socket.write(this.headText, 'latin1');
      if (body.length > 0) socket.write(body);
      socket.uncork();
      this.bodySent = true;
      return;
    }
    socket.write(this.headText, 'latin1');
    if (body === undefined || body === null) {
      this.bodySent = true;
      return;
    }
    this.sender = new BodySender(socket, body, this.framing === 'chunked', this);
    // A stream is read only once the connection is made: a refused one leaves it unread, and the
    // request may go to another process (proxy/never-sent.ts).
    if (connection.connected) this.sender.start();
  }

  /** Stops the exchange: the connection is closed, and the handler's onError gets this error. */
  abort(err: Error): void {
    this.fail(err);
  }

  /** Reading the app's answer goes on after onData returned false. */
  resume(): void {
    if (!this.paused || this.state === 'done') return;
    this.paused = false;
    this.connection?.socket.resume();
  }

  /** Ends it before it started (the pool is closed, the head cannot be written). */
  failUnstarted(err: Error): void {
    this.fail(err);
  }

  // --- from the connection ---

  onConnected(): void {
    this.sender?.start();
  }

  onDrain(): void {
    this.sender?.onDrain();
  }

  onBytes(chunk: Buffer): void {
    this.answered = true;
    if (this.state === 'awaiting-head') {
      const rest = this.readHead(chunk);
      if (rest === undefined) return;
      chunk = rest;
    }
    if (this.state === 'reading-body') this.readBody(chunk);
  }

  /** The app closed its side: the end of a close-delimited answer; anything else fails at 'close'. */
  onAppEnded(): void {
    if (this.state === 'reading-body' && (this.head as ResponseHead).body.kind === 'close') this.complete(false);
  }

  onConnectionClosed(connection: UpstreamConnection, err: (Error & { code?: string }) | undefined): void {
    if (this.state === 'done' || connection !== this.connection) return;
    if (this.mayRetry(connection)) {
      this.retry();
      return;
    }
    if (err !== undefined) {
      // A retry's connection refused: the app died after the first try, perhaps of this very
      // request, which must then not go on to the next process as one that was never sent.
      if (this.retried && (err.code === 'ECONNREFUSED' || err.code === 'ENOENT')) {
        this.fail(new UpstreamError('FERRY_UPSTREAM_CLOSED', `the app closed its kept-alive connection before answering, then refused a new one (${err.code})`));
        return;
      }
      this.fail(err);
      return;
    }
    const when = this.state === 'awaiting-head' ? 'before its answer was complete' : 'in the middle of its answer';
    this.fail(new UpstreamError('FERRY_UPSTREAM_CLOSED', `the app closed the connection ${when}`));
  }

  // --- from the body sender ---

  onBodySent(): void {
    this.bodySent = true;
  }

  onBodyFailed(err: Error): void {
    this.fail(err);
  }

  // --- reading the answer ---

  /** Heads until the final one; the bytes after it, or undefined when there is nothing more to do now. */
  private readHead(chunk: Buffer): Buffer | undefined {
    const { parser } = this.connection as UpstreamConnection;
    for (;;) {
      const result = parser.feed(chunk, this.request.method);
      switch (result.kind) {
        case 'incomplete':
          return undefined;
        case 'refused':
          this.fail(new UpstreamError('FERRY_UPSTREAM_BAD_RESPONSE', `the app's answer is not valid HTTP/1.1: ${result.reason}`));
          return undefined;
        case 'upgrade':
          if (this.request.upgrade !== true || this.handler.onUpgrade === undefined) {
            this.fail(new UpstreamError('FERRY_UPSTREAM_BAD_RESPONSE', `the app switched protocols (${result.head.status}) on a request that did not ask for it`));
          } else if (!this.bodySent) {
            // The body's rest would go into the tunnel as the new protocol's bytes.
            this.fail(new UpstreamError('FERRY_UPSTREAM_BAD_RESPONSE', 'the app switched protocols before it had the whole request body'));
          } else {
            this.switchProtocols(result.head, result.rest);
          }
          return undefined;
        case 'interim':
          this.handler.onInterim?.(result.head);
          if (this.state === 'done' || result.rest.length === 0) return undefined;
          chunk = result.rest;
          continue;
        case 'head': {
          const { head } = result;
          this.head = head;
          this.decoder = createBodyDecoder(head.body);
          this.state = 'reading-body';
          this.handler.onHead(head);
          // The handler may have aborted; a body-less answer still ends below (on empty bytes).
          return this.state === 'reading-body' ? result.rest : undefined;
        }
      }
    }
  }

  private readBody(chunk: Buffer): void {
    const result = (this.decoder as BodyDecoder).decode(chunk);
    if (result.kind === 'refused') {
      this.fail(new UpstreamError('FERRY_UPSTREAM_BAD_RESPONSE', `the app's answer body is not valid HTTP/1.1: ${result.reason}`));
      return;
    }
    const { data } = result;
    for (let i = 0; i < data.length; i++) {
      if (!this.handler.onData(data[i] as Buffer) && !this.paused) {
        this.paused = true;
        (this.connection as UpstreamConnection).socket.pause();
      }
      if (this.state !== 'reading-body') return;
    }
    // Bytes after the answer: the app is not speaking HTTP as we read it; not reused.
    if (result.kind === 'end') this.complete(result.rest.length === 0);
  }

  // --- ends ---

  private mayRetry(connection: UpstreamConnection): boolean {
    if (this.retried || this.answered || connection.served === 0) return false;
    const { body } = this.request;
    return isIdempotent(this.request.method) && (body === undefined || body === null || Buffer.isBuffer(body));
  }

  private retry(): void {
    this.retried = true;
    const fresh = this.pool.connectFresh();
    if (fresh === undefined) {
      this.fail(new UpstreamError('FERRY_UPSTREAM_POOL_CLOSED', 'the app process is no longer taking requests'));
      return;
    }
    this.start(fresh);
  }

  private complete(clean: boolean): void {
    this.state = 'done';
    const connection = this.connection as UpstreamConnection;
    connection.exchange = undefined;
    connection.served++;
    let reusable = clean && this.bodySent && this.keepsAlive(connection);
    if (!this.bodySent) {
      // The app answered before taking the whole body: what it did not read would be the next request.
      this.sender?.stop();
      reusable = false;
    }
    if (this.paused) {
      this.paused = false;
      connection.socket.resume();
    }
    this.pool.release(connection, reusable);
    this.handler.onComplete();
  }

  /** HTTP/1.1 without `Connection: close`, and time left by the app's Keep-Alive hint. */
  private keepsAlive(connection: UpstreamConnection): boolean {
    const head = this.head as ResponseHead;
    if (!head.keepAlive || head.version !== '1.1') return false;
    const { fields } = head;
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i] as (typeof fields)[number];
      if (field.lower.length !== 10 || field.lower !== 'keep-alive') continue;
      if (field.value !== connection.keepAliveHint) {
        const seconds = keepAliveTimeoutSeconds(field.value);
        connection.keepAliveHint = field.value;
        connection.keepAliveHintMs = seconds === undefined ? -1 : Math.min(seconds * 1000 - KEEP_ALIVE_MARGIN_MS, MAX_KEEP_ALIVE_MS);
      }
      if (connection.keepAliveHintMs === -1) return true;
      if (connection.keepAliveHintMs <= 0) return false;
      connection.keepAliveMs = connection.keepAliveHintMs;
      return true;
    }
    return true;
  }

  /** The 101: the connection is no longer the pool's, nor this exchange's. */
  private switchProtocols(head: ResponseHead, rest: Buffer): void {
    this.state = 'done';
    const connection = this.connection as UpstreamConnection;
    connection.exchange = undefined;
    this.pool.handOver(connection);
    const socket = connection.detach();
    (this.handler.onUpgrade as NonNullable<UpstreamHandler['onUpgrade']>)(head, socket, rest);
  }

  private fail(err: Error & { code?: string }): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.sender?.stop();
    const { connection } = this;
    if (connection !== undefined) {
      connection.exchange = undefined;
      this.pool.release(connection, false);
    }
    this.handler.onError(err);
  }
}
