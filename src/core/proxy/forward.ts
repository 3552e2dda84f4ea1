// Streams one request to an app process and its response back over the process's kept-alive
// upstream pool (src/core/upstream; Upgrade requests go their own way: tunnel.ts). The response
// goes to the client chunk by chunk as it comes; what a slow client cannot take yet waits in a
// ResponseBuffer, so the app is slowed down only past the high watermark (plain backpressure when
// that is 0). The handler writes straight into the client response (bench/upstream-client.mjs
// compares it with undici and node:http).

import type http from 'node:http';
import type { Readable } from 'node:stream';
import type { ResponseHead } from '../engine/response-head.js';
import type { FaultInjector } from '../faults.js';
import type { Logger } from '../log.js';
import type { Session } from '../pool/session.js';
import type { WorkerProcess } from '../pool/worker.js';
import { bodyTooLargeAnswer, isBodyTooLarge, limitedBody } from './client-limits.js';
import { sendErrorResponse } from './error-responses.js';
import { buildDownstreamHeaders, buildUpstreamHeaders, type ForwardingFacts } from './headers.js';
import type { TrackedRequest } from './request-tracker.js';
import { injectedRefusal } from './injected-faults.js';
import { hasRequestBody, type RequestBodyBuffer } from './request-body.js';
import { ResponseBuffer, type ResponseBufferOptions } from './response-buffer.js';
import { neverSent } from './never-sent.js';
import { takeOobRequest } from './oob-request.js';
import { CACHE_HEADER, type CacheTransaction } from '../turbocache/cache-front.js';
import type { UpstreamExchange, UpstreamHandler } from '../upstream/upstream-exchange.js';

/** One forwarded request: the upstream exchange calls it as the app's answer arrives. */
class ForwardHandler implements UpstreamHandler {
  /** The exchange with the app, once dispatched (not for an injected refusal). */
  exchange: UpstreamExchange | undefined;
  private clientGone = false;
  private timedOut = false;
  private deadlineTimer: NodeJS.Timeout | undefined;
  /** What the client has not taken yet; set once its socket first refuses more. */
  private buffer: ResponseBuffer | undefined;
  /** Chunks go to the buffer (not the client) until it is empty again. */
  private buffering = false;
  /** The buffer reached the high watermark: the exchange stopped reading the app until resume(). */
  private upstreamPaused = false;
  /** The app sent its whole answer; the client may still be taking it from the buffer. */
  private appDone = false;
  private drainListened = false;
  /** The request body as read back from its buffer file, if it went to the app that way. */
  fileBody: Readable | undefined;

  constructor(
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly session: Session,
    private readonly requestId: string,
    private readonly log: Logger,
    private readonly tracked: TrackedRequest | undefined,
    private readonly options: ForwardOptions,
  ) {
    const { deadline } = options;
    if (deadline && deadline.maxRequestTimeMs > 0) {
      // It times the app, not the client: it stops when the app has answered (onComplete).
      this.deadlineTimer = setTimeout(() => {
        if (this.appDone || res.writableFinished) return;
        this.timedOut = true;
        deadline.onStuck(session.worker);
        this.abort(new Error('max-request-time exceeded'));
      }, deadline.maxRequestTimeMs);
    }
    res.once('close', () => {
      clearTimeout(this.deadlineTimer);
      // Client gone early: stop the app's work on it rather than stream into the void.
      if (!res.writableFinished) {
        this.clientGone = true;
        this.abort(new Error('client closed the connection'));
      }
      session.close();
      this.buffer?.dispose();
    });
    req.once('error', () => this.abort(new Error('client request failed')));
  }

  private abort(err: Error): void {
    this.exchange?.abort(err);
  }

  // 1xx interim answers (onInterim) are not relayed to the client.

  onHead(head: ResponseHead): void {
    const { status: statusCode, reason: statusText, fields } = head;
    if (this.tracked) this.tracked.state = 'responding';
    const raw = new Array<string>(fields.length * 2);
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i] as (typeof fields)[number];
      raw[2 * i] = field.name;
      raw[2 * i + 1] = field.value;
    }
    const headers = buildDownstreamHeaders(raw);
    // The app asks for out-of-band work: a note for Ferry, not for the client.
    const oob = takeOobRequest(headers);
    if (oob) this.options.onOobRequest?.();
    // Decided on the app's own headers, before Ferry adds its sticky-session cookie.
    const cacheStatus = this.options.cache?.onHeaders(statusCode, statusText, headers);
    if (cacheStatus !== undefined) headers.push(CACHE_HEADER, cacheStatus);
    if (this.options.setCookie) headers.push('Set-Cookie', this.options.setCookie);
    this.res.writeHead(statusCode, statusText, headers);
  }

  onData(chunk: Buffer): boolean {
    this.options.cache?.onData(chunk);
    // The common case, a client that keeps up: straight through, as it comes.
    if (!this.buffering) {
      if (this.res.write(chunk)) return true;
      if (!this.drainListened) {
        this.drainListened = true;
        this.res.on('drain', () => this.onDrain());
      }
      const highWatermark = this.options.responseBuffer?.highWatermarkBytes ?? 0;
      // No buffering: false stops reading the app until 'drain' calls resume(), so the app is
      // read no faster than the client reads.
      if (highWatermark === 0) return false;
      // The client is slower than the app: from here on, keep what it cannot take yet.
      this.buffering = true;
      this.buffer ??= this.newBuffer();
      return true;
    }
    const buffer = this.buffer as ResponseBuffer;
    try {
      buffer.push(chunk);
    } catch (err) {
      this.bufferFailed(err as Error);
      return false;
    }
    if (buffer.size < (this.options.responseBuffer?.highWatermarkBytes ?? 0)) return true;
    this.upstreamPaused = true;
    return false;
  }

  private newBuffer(): ResponseBuffer {
    const buffer = new ResponseBuffer((this.options.responseBuffer as ResponseBufferOptions).dir);
    if (this.tracked) this.tracked.responseBuffer = buffer;
    return buffer;
  }

  /** The client took what it had: give it the buffered rest, in order, as far as it takes it. */
  private onDrain(): void {
    if (!this.buffering) {
      this.exchange?.resume();
      return;
    }
    const buffer = this.buffer as ResponseBuffer;
    let chunk: Buffer | undefined;
    let full = false;
    try {
      while (!full && (chunk = buffer.shift()) !== undefined) full = !this.res.write(chunk);
    } catch (err) {
      this.bufferFailed(err as Error);
      return;
    }
    if (this.upstreamPaused && buffer.size < (this.options.responseBuffer?.highWatermarkBytes ?? 0)) {
      this.upstreamPaused = false;
      this.exchange?.resume();
    }
    if (buffer.size > 0) return;
    this.buffering = false;
    if (this.appDone) this.res.end();
  }

  /** The spill file failed (disk full, say): the client cannot get the whole answer, so it gets a broken one. */
  private bufferFailed(err: Error): void {
    this.log.error('could not buffer a response for a slow client; closing its connection', { reqId: this.requestId, err });
    this.abort(err);
    this.res.destroy();
  }

  onComplete(): void {
    this.appDone = true;
    clearTimeout(this.deadlineTimer);
    // The app is done with it: free the session now, even if a slow client is still reading.
    this.session.close();
    this.options.cache?.onComplete();
    // The app has answered, so it has had all of the body it wanted: the buffered copy can go
    // (its file too, which is still open when the app answered before reading it all).
    this.options.body?.dispose();
    this.fileBody?.destroy();
    if (!this.buffering) {
      this.res.end();
      return;
    }
    if (this.tracked) this.tracked.state = 'draining';
  }

  onError(err: Error & { code?: string }): void {
    this.session.close();
    // A buffered body read from its file: its descriptor must not wait for the garbage collector.
    this.fileBody?.destroy();
    if (this.clientGone) return;
    if (isBodyTooLarge(err)) {
      // The client's fault, not the app's: the app was told to drop it; the client gets 413 once
      // the rest of what it sends is read and thrown away, and the connection closes.
      const what = this.res.headersSent ? 'the app had begun to answer, so the connection is closed' : 'answered 413';
      this.log.info(`request body over max-body-size; ${what}`, { reqId: this.requestId, maxBodyBytes: err.maxBodyBytes });
      this.req.resume();
      sendErrorResponse(this.req, this.res, bodyTooLargeAnswer(this.requestId, err.maxBodyBytes));
      return;
    }
    if (this.timedOut) {
      if (this.res.headersSent) this.res.destroy();
      else sendErrorResponse(this.req, this.res, { status: 504, reason: 'The application took too long to answer this request.', requestId: this.requestId });
      return;
    }
    if (!this.res.headersSent && this.options.retryElsewhere?.(err)) return;
    if (this.res.headersSent) {
      // The response was under way: the client must see a broken message, not a complete one.
      this.log.warn('app process failed while answering; the response is cut off', { reqId: this.requestId, appPid: this.session.worker.pid, err: err.message, code: err.code });
      this.res.destroy();
      return;
    }
    this.log.warn('app process failed during a request', { reqId: this.requestId, appPid: this.session.worker.pid, err: err.message, code: err.code });
    sendErrorResponse(this.req, this.res, {
      status: 502,
      reason: 'The application process failed while handling this request.',
      requestId: this.requestId,
    });
  }
}

/** max-request-time: when a request has run too long, and what to do with its process. */
export interface RequestDeadline {
  maxRequestTimeMs: number;
  onStuck(worker: WorkerProcess): void;
}

/**
 * The connection to the app process was never made, so nothing of the request reached it; it
 * may go to another process if its body can be sent again (unread, or buffered).
 */
export function isNeverSent(err: Error & { code?: string }, req: http.IncomingMessage, bodyBuffered = false): boolean {
  return neverSent(err.code, bodyBuffered || !hasRequestBody(req) || !req.readableDidRead);
}

/** What a forwarded request may do besides streaming: each optional. */
export interface ForwardOptions {
  /** Called when the app process could not even be connected to; true if the request was sent elsewhere. */
  retryElsewhere?: (err: Error & { code?: string }) => boolean;
  deadline?: RequestDeadline;
  /** A Set-Cookie to add to the answer (sticky sessions). */
  setCookie?: string;
  /** The app asked for out-of-band work. */
  onOobRequest?: () => void;
  /** The turbocache follows the answer (store, invalidate, X-Ferry-Cache). */
  cache?: CacheTransaction;
  /** A body without Content-Length is cut here and the client gets 413 (0 = no limit). */
  maxBodyBytes?: number;
  /** The upstream-connect fault point, when fault injection is on. */
  faults?: FaultInjector;
  /** The request body, already read whole from the client (upload buffering). */
  body?: RequestBodyBuffer | undefined;
  /** Real-time response buffering for slow clients; without it, plain backpressure. */
  responseBuffer?: ResponseBufferOptions | undefined;
}

export function forwardRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  session: Session,
  facts: ForwardingFacts,
  log: Logger,
  tracked?: TrackedRequest,
  options: ForwardOptions = {},
): void {
  const handler = new ForwardHandler(req, res, session, facts.requestId, log, tracked, options);
  if (options.faults?.fails('upstream-connect', { reqId: facts.requestId, appPid: session.worker.pid })) {
    // Asynchronously, as the pool reports a refused connection; from here on it is one.
    process.nextTick(() => handler.onError(injectedRefusal(session)));
    return;
  }
  const { body } = options;
  const headers = buildUpstreamHeaders(req.rawHeaders, facts);
  // A buffered chunked body goes with its length (Transfer-Encoding is dropped with the hop-by-hop headers).
  if (body?.needsLength) headers.push('Content-Length', String(body.length));
  const buffered = body?.upstreamBody();
  if (buffered !== undefined && !Buffer.isBuffer(buffered)) handler.fileBody = buffered;
  handler.exchange = session.worker.upstream.dispatch(
    {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers,
      body: buffered ?? (hasRequestBody(req) ? limitedBody(req, options.maxBodyBytes ?? 0) : null),
    },
    handler,
  );
}
