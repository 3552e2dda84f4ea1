// One client connection of the front: the loop that takes its requests one at a time. Bytes are
// parsed as they arrive (the engine's head parser and body decoders, one pass); each head becomes
// an Exchange for the handler; the next request is taken only once the answer to this one has
// been handed to the socket and the socket has drained, so answers are in order by construction
// and a client that pipelines without reading is slowed down. Bytes read ahead stay buffered and
// reading pauses. What the engine refuses is answered here with a short raw response, and
// nothing after it is taken. The timers (keep-alive idle, header, body) are deadlines that the
// server's sweep checks (server.ts), so the hot path sets a number instead of a timer.

import type { Socket } from 'node:net';
import type { BodyDecoder, BodyEnd } from '../engine/body-result.js';
import { createBodyDecoder } from '../engine/body.js';
import { RequestHeadParser, type RequestHead, type RequestHeadOptions } from '../engine/request-head.js';
import type { Logger } from '../log.js';
import { Exchange, type ExchangeHost, type ExchangeOutcome, type FrontHandler } from './exchange.js';
import { BODY_TIMEOUT_REASON, bodyTooLargeReason, HANDLER_FAILED_REASON, HEADER_TIMEOUT_REASON, refusalBytes, TRUNCATED_REASON } from './refusal.js';

/** Where the connection's loop is. Transitions: toState() alone. */
export type ConnectionState =
  /** Between requests (or before the first): waiting for the first byte of a head. */
  | 'idle'
  /** A head is arriving: the header timeout runs (and the whole request's). */
  | 'head'
  /** A request is with the handler: its body may still arrive, its answer is under way. */
  | 'exchange'
  /** The answer is handed over but the socket's buffer is full: the next request waits for it to drain. */
  | 'draining'
  /** No more requests: the last bytes go out, what the client still sends is read and dropped. */
  | 'closing'
  /** The socket is closed. */
  | 'closed'
  /** A handler took the socket over (an upgrade). */
  | 'detached';

export interface FrontSettings {
  /** The head parser's limits (size, request line, field count) and the connection's scheme. */
  head: Partial<RequestHeadOptions>;
  /** Largest request body; 0 = none. */
  maxBodyBytes: number;
  /** From a head's first byte to its end; 0 = none. */
  headerTimeoutMs: number;
  /** From a request's first byte to the end of its body; 0 = none. */
  bodyTimeoutMs: number;
  /** A kept-alive connection with no request for this long is closed; 0 = never. */
  keepAliveTimeoutMs: number;
  /** How long a closing connection is kept for the client to read its last answer. */
  lingerMs: number;
}

/** A refusal the front answered itself, for the access log. */
export interface FrontRefusal {
  requestId: string;
  /** The answer's bytes, all of what the connection sent for it. */
  bytes: number;
  remoteAddress: string | undefined;
}

/** What a connection shares with the others of its server. */
export interface ConnectionContext {
  readonly settings: FrontSettings;
  readonly handler: FrontHandler;
  readonly nextRequestId: () => string;
  readonly log: Logger | undefined;
  /** Handing over (or stopping): every answer closes its connection. */
  readonly handingOver: boolean;
  connectionClosed(connection: FrontConnection): void;
  /** The front answered a refusal itself (the exchange, if the handler had the request). */
  refused?(status: number, exchange: Exchange | undefined, refusal: FrontRefusal): void;
}

const EMPTY = Buffer.alloc(0);
const NO_PARTS: Buffer[] = [];

function pumpTick(connection: FrontConnection): void {
  connection.pump();
}

export class FrontConnection implements ExchangeHost {
  state: ConnectionState = 'idle';
  readonly remoteAddress: string | undefined;
  /** When the state's timer runs out (ms since the epoch); 0 = no timer. */
  deadlineMs = 0;
  /** Since when the connection has been idle, or taken over (for a handover, which closes those). */
  idleSinceMs: number;
  /** Requests taken on this connection. */
  requests = 0;
  /** Inside pump(): the loop sees what callbacks change, and sends a held head at its end. */
  pumping = false;
  /** Pipelined answers of one turn are gathered and written together at its end (one writev). */
  private corked = false;
  private readonly parser: RequestHeadParser;
  private exchange: Exchange | undefined;
  private decoder: BodyDecoder | undefined;
  private bodyBytes = 0;
  /** Decoded body pieces not delivered yet (the handler paused), and the body's end if it came. */
  private parts: Buffer[] = NO_PARTS;
  private partIndex = 0;
  private ending: BodyEnd | undefined;
  /** Bytes read but not taken yet: a head's rest, the next request, a body the handler has not asked for. */
  private buffered: Buffer | undefined;
  private requestStartMs = 0;

  constructor(
    readonly socket: Socket,
    private readonly context: ConnectionContext,
  ) {
    this.remoteAddress = socket.remoteAddress;
    this.parser = new RequestHeadParser(context.settings.head);
    const now = Date.now();
    this.idleSinceMs = now;
    // A new connection that sends nothing is a slowloris too: the header timeout from the accept.
    const { headerTimeoutMs, keepAliveTimeoutMs } = context.settings;
    const firstWaitMs = headerTimeoutMs > 0 ? headerTimeoutMs : keepAliveTimeoutMs;
    this.deadlineMs = firstWaitMs > 0 ? now + firstWaitMs : 0;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('drain', this.onDrain);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  get closingAfterAnswer(): boolean {
    return this.context.handingOver;
  }

  // --- socket events (one bound function each per connection, none per request) ---

  private readonly onData = (chunk: Buffer): void => {
    if (this.state === 'closing' || this.state === 'closed' || this.state === 'detached') return;
    this.buffered = this.buffered === undefined ? chunk : Buffer.concat([this.buffered, chunk]);
    this.pump();
  };

  /**
   * The client shut its side (FIN). Between requests: the connection closes. In a head: it is
   * truncated. With a request in flight: the client has left, as nginx (499) and node:http take
   * it, so that the handler can stop work nobody will read.
   */
  private readonly onEnd = (): void => {
    switch (this.state) {
      case 'idle':
      case 'draining':
        this.close();
        break;
      case 'head':
        this.refuse(400, TRUNCATED_REASON);
        break;
      case 'exchange':
        this.destroy();
        break;
      default:
    }
  };

  private readonly onDrain = (): void => {
    if (this.state === 'draining') {
      this.toState('idle');
      this.pump();
      return;
    }
    const exchange = this.exchange;
    if (exchange !== undefined && this.state === 'exchange') exchange.listener?.onDrain?.(exchange);
  };

  private readonly onError = (): void => {
    // 'close' follows; a reset client is no error of the server's.
  };

  private readonly onClose = (): void => {
    const exchange = this.exchange;
    this.exchange = undefined;
    if (this.state !== 'detached') this.state = 'closed';
    this.deadlineMs = 0;
    if (exchange !== undefined) exchange.finish('client-closed');
    this.context.connectionClosed(this);
  };

  // --- the loop ---

  /** Takes what the buffered bytes allow; re-entrant calls leave it to the running loop. */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.step());
    } finally {
      this.pumping = false;
      // A head written during this turn goes out now if no body bytes took it along.
      this.exchange?.flushHead();
      if (this.corked) {
        this.corked = false;
        this.socket.uncork();
      }
    }
  }

  /** One step; false when the loop must wait for bytes, the handler or the socket. */
  private step(): boolean {
    switch (this.state) {
      case 'idle':
      case 'head':
        return this.readHead();
      case 'exchange':
        return this.exchange !== undefined && this.readBody(this.exchange);
      case 'draining':
        // The client sends more while it does not read: it waits in the kernel, not here.
        if (this.buffered !== undefined) this.socket.pause();
        return false;
      default:
        return false;
    }
  }

  private readHead(): boolean {
    const input = this.buffered;
    if (input === undefined) {
      this.resumeReading();
      return false;
    }
    this.buffered = undefined;
    if (this.state === 'idle') this.toState('head');
    const result = this.parser.feed(input);
    if (result.kind === 'incomplete') return true;
    if (result.kind === 'refused') {
      this.refuse(result.status, result.reason);
      return false;
    }
    if (result.rest.length > 0) this.buffered = result.rest;
    return this.startExchange(result.head);
  }

  private startExchange(head: RequestHead): boolean {
    const body = head.framing.body;
    const { maxBodyBytes } = this.context.settings;
    // Announced too large: refused before the handler sees it, and before the client sends it.
    if (body.kind === 'length' && maxBodyBytes > 0 && body.length > maxBodyBytes) {
      this.refuse(413, bodyTooLargeReason(maxBodyBytes));
      return false;
    }
    const hasBody = body.kind === 'chunked' || (body.kind === 'length' && body.length > 0);
    this.decoder = hasBody ? createBodyDecoder(body) : undefined;
    this.bodyBytes = 0;
    const exchange = new Exchange(this, head, !hasBody);
    this.exchange = exchange;
    this.requests++;
    this.toState('exchange');
    try {
      this.context.handler(exchange);
    } catch (err) {
      this.handlerFailed(exchange, err);
    }
    return true;
  }

  private readBody(exchange: Exchange): boolean {
    if (exchange.answer === 'ended' && (exchange.body === 'complete' || exchange.closeAfter)) {
      this.finishExchange(exchange);
      return true;
    }
    if (exchange.body === 'reading' || exchange.body === 'discarding') {
      if (this.partIndex < this.parts.length || this.ending !== undefined) return this.deliver(exchange);
      const input = this.buffered;
      if (input === undefined) {
        this.resumeReading();
        return false;
      }
      this.buffered = undefined;
      return this.decode(exchange, input);
    }
    // The body is not wanted now, or it is complete and the answer under way: bytes wait.
    if (this.buffered !== undefined) this.socket.pause();
    return false;
  }

  private decode(exchange: Exchange, input: Buffer): boolean {
    const result = (this.decoder as BodyDecoder).decode(input);
    if (result.kind === 'refused') {
      this.refuse(result.status, result.reason, 'body-refused');
      return false;
    }
    const { maxBodyBytes } = this.context.settings;
    if (maxBodyBytes > 0) {
      for (const part of result.data) this.bodyBytes += part.length;
      // Only a chunked body gets here over the limit: a Content-Length was checked up front.
      if (this.bodyBytes > maxBodyBytes) {
        this.refuse(413, bodyTooLargeReason(maxBodyBytes), 'body-refused');
        return false;
      }
    }
    this.parts = result.data;
    this.partIndex = 0;
    if (result.kind === 'end') {
      this.ending = result;
      // What follows the body is the next request: it waits for this answer.
      if (result.rest.length > 0) this.buffered = result.rest;
    }
    return true;
  }

  /** Decoded pieces to the listener, one at a time, as long as the handler wants them. */
  private deliver(exchange: Exchange): boolean {
    while (this.partIndex < this.parts.length) {
      if (exchange.body !== 'reading' && exchange.body !== 'discarding') return true;
      const part = this.parts[this.partIndex++] as Buffer;
      if (exchange.body === 'reading') exchange.listener?.onBodyData?.(part, exchange);
      if (this.exchange !== exchange) return true;
    }
    this.parts = NO_PARTS;
    const ending = this.ending;
    if (ending !== undefined) {
      if (exchange.body !== 'reading' && exchange.body !== 'discarding') return true;
      this.ending = undefined;
      this.decoder = undefined;
      this.deadlineMs = 0;
      exchange.bodyEnded(ending.trailers);
    }
    return true;
  }

  private finishExchange(exchange: Exchange): void {
    this.exchange = undefined;
    this.decoder = undefined;
    this.parts = NO_PARTS;
    this.ending = undefined;
    exchange.finish('answered');
    // An upgrade request not taken over: what follows it may be the tunnel's, never a request.
    if (exchange.closeAfter || exchange.upgrade) {
      this.close();
      return;
    }
    this.toState(this.socket.writableNeedDrain ? 'draining' : 'idle');
    // More requests already read (pipelining): their answers go out together at the turn's end.
    if (this.buffered !== undefined && this.pumping && !this.corked && this.state === 'idle') {
      this.corked = true;
      this.socket.cork();
    }
  }

  private resumeReading(): void {
    if (this.socket.isPaused()) this.socket.resume();
  }

  private toState(next: ConnectionState): void {
    if (this.state === 'closed' || this.state === 'detached') return;
    const { settings } = this.context;
    switch (next) {
      case 'idle': {
        const now = Date.now();
        this.idleSinceMs = now;
        this.deadlineMs = settings.keepAliveTimeoutMs > 0 ? now + settings.keepAliveTimeoutMs : 0;
        break;
      }
      case 'head': {
        const now = Date.now();
        this.requestStartMs = now;
        const { headerTimeoutMs, bodyTimeoutMs } = settings;
        // The body timeout bounds the head too.
        const limitMs = headerTimeoutMs > 0 && bodyTimeoutMs > 0 ? Math.min(headerTimeoutMs, bodyTimeoutMs) : headerTimeoutMs || bodyTimeoutMs;
        this.deadlineMs = limitMs > 0 ? now + limitMs : 0;
        break;
      }
      case 'exchange':
        this.deadlineMs = this.decoder !== undefined && settings.bodyTimeoutMs > 0 ? this.requestStartMs + settings.bodyTimeoutMs : 0;
        break;
      case 'closing':
        this.deadlineMs = Date.now() + settings.lingerMs;
        break;
      default:
        this.deadlineMs = 0;
    }
    this.state = next;
  }

  // --- endings ---

  /** Cut the connection now; the socket's 'close' finishes what was under way. */
  destroy(): void {
    if (this.state !== 'closed' && this.state !== 'detached') this.toState('closed');
    this.socket.destroy();
  }

  /** Ends the connection after what has been written; later bytes from the client are dropped. */
  close(): void {
    if (this.state === 'closing' || this.state === 'closed' || this.state === 'detached') return;
    this.toState('closing');
    this.buffered = undefined;
    this.socket.end();
    // Read and drop what still comes: closing with unread bytes would reset the connection, and
    // the client could lose the answer.
    this.resumeReading();
  }

  /**
   * Answers `status` itself and closes (nothing after it is read as a request); an answer already
   * begun cannot be followed by another one, so then the connection is cut.
   */
  refuse(status: number, reason: string, outcome: ExchangeOutcome = 'body-refused'): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    // A head only held (not sent yet) is dropped: the refusal takes its place.
    const answered = exchange !== undefined && (exchange.answer === 'body' || exchange.answer === 'ended');
    if (answered) {
      this.destroy();
    } else {
      const requestId = this.context.nextRequestId();
      this.context.log?.debug('client request refused', { reqId: requestId, status, reason });
      const answer = refusalBytes(status, reason, requestId);
      this.socket.write(answer);
      this.close();
      this.context.refused?.(status, exchange, { requestId, bytes: answer.length, remoteAddress: this.remoteAddress });
    }
    exchange?.finish(outcome);
  }

  /** The state's timer ran out (the server's sweep calls this). */
  expire(now: number): void {
    switch (this.state) {
      case 'idle':
        // Nothing was asked: nobody to answer.
        this.destroy();
        break;
      case 'head':
        this.refuse(408, HEADER_TIMEOUT_REASON);
        break;
      case 'exchange':
        this.refuse(408, BODY_TIMEOUT_REASON, 'timed-out');
        break;
      case 'closing':
        // Still writing to a client that reads slowly: the answer is not cut.
        if (this.socket.writableLength > 0) this.deadlineMs = now + this.context.settings.lingerMs;
        else this.destroy();
        break;
      default:
        this.deadlineMs = 0;
    }
  }

  private handlerFailed(exchange: Exchange, err: unknown): void {
    this.context.log?.error('the front handler failed', { err });
    if (this.exchange !== exchange) return;
    this.refuse(500, HANDLER_FAILED_REASON, 'destroyed');
  }

  // --- ExchangeHost ---

  bodyWanted(exchange: Exchange): void {
    if (exchange !== this.exchange || this.pumping) return;
    // Never inside the handler's call: its chunks come on the next tick.
    process.nextTick(pumpTick, this);
  }

  answerEnded(exchange: Exchange): void {
    if (exchange !== this.exchange || this.pumping) return;
    if (exchange.body !== 'complete' && !exchange.closeAfter) return;
    this.finishExchange(exchange);
    // A request read ahead waits for the next tick, not inside the previous handler's end().
    if (this.state === 'idle' && this.buffered !== undefined) process.nextTick(pumpTick, this);
    else if (this.state === 'idle') this.pump();
  }

  abort(exchange: Exchange): void {
    if (exchange !== this.exchange) return;
    this.exchange = undefined;
    this.destroy();
    exchange.finish('destroyed');
  }

  detach(exchange: Exchange): Buffer {
    const rest = this.buffered ?? EMPTY;
    this.buffered = undefined;
    this.exchange = undefined;
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('drain', this.onDrain);
    this.socket.pause();
    this.idleSinceMs = Date.now();
    this.toState('detached');
    exchange.finish('detached');
    return rest;
  }
}
