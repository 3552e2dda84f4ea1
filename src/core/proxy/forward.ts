// Streams one request to an app process and its response back, both ways with backpressure,
// over the process's kept-alive undici pool; WebSocket/Upgrade requests become a raw tunnel.
//
// Upstream uses undici's dispatch() with a handler writing straight into the client response:
// measured on this machine (bench/upstream-client.mjs) it needs ~0.6x the CPU per request of
// node:http with a keep-alive Agent and serves 1.6-1.9x the requests per second.

import type http from 'node:http';
import net from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { FaultInjector } from '../faults.js';
import type { Logger } from '../log.js';
import type { Session } from '../pool/session.js';
import type { WorkerProcess } from '../pool/worker.js';
import { bodyTooLargeAnswer, isBodyTooLarge, limitedBody } from './client-limits.js';
import { sendErrorResponse } from './error-responses.js';
import { buildDownstreamHeaders, buildUpstreamHeaders, type ForwardingFacts } from './headers.js';
import type { TrackedRequest } from './request-tracker.js';
import { CACHE_HEADER, type CacheTransaction } from '../turbocache/cache-front.js';

/** A request carries a body when it says so (RFC 9112 §6.3): Content-Length > 0 or Transfer-Encoding. */
function hasRequestBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** One forwarded request: undici calls it as the app's answer arrives. */
class ForwardHandler implements Dispatcher.DispatchHandler {
  private abort: ((err?: Error) => void) | undefined;
  private clientGone = false;
  private timedOut = false;

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
      const timer = setTimeout(() => {
        if (res.writableFinished) return;
        this.timedOut = true;
        deadline.onStuck(session.worker);
        this.abort?.(new Error('max-request-time exceeded'));
      }, deadline.maxRequestTimeMs);
      res.once('close', () => clearTimeout(timer));
    }
    res.once('close', () => {
      // Client gone early: stop the app's work on it rather than stream into the void.
      if (!res.writableFinished) {
        this.clientGone = true;
        this.abort?.(new Error('client closed the connection'));
      }
      session.close();
    });
    req.once('error', () => this.abort?.(new Error('client request failed')));
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.clientGone) abort(new Error('client closed the connection'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true; // 1xx: informational, not relayed
    if (this.tracked) this.tracked.state = 'responding';
    const raw = new Array<string>(rawHeaders.length);
    for (let i = 0; i < rawHeaders.length; i++) raw[i] = (rawHeaders[i] as Buffer).toString('latin1');
    const headers = buildDownstreamHeaders(raw);
    // The app asks for out-of-band work: a note for Ferry, not for the client.
    const oob = takeOobRequest(headers);
    if (oob) this.options.onOobRequest?.();
    // Decided on the app's own headers, before Ferry adds its sticky-session cookie.
    const cacheStatus = this.options.cache?.onHeaders(statusCode, statusText, headers);
    if (cacheStatus !== undefined) headers.push(CACHE_HEADER, cacheStatus);
    if (this.options.setCookie) headers.push('Set-Cookie', this.options.setCookie);
    this.res.writeHead(statusCode, statusText, headers);
    this.res.on('drain', resume);
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.options.cache?.onData(chunk);
    // false pauses undici's parser until 'drain' calls resume(): the app is read no faster than the client reads.
    return this.res.write(chunk);
  }

  onComplete(): void {
    // The app is done with it: free the session now, even if a slow client is still reading.
    this.session.close();
    this.options.cache?.onComplete();
    this.res.end();
  }

  onError(err: Error & { code?: string }): void {
    this.session.close();
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

/** Removes the app's out-of-band work request headers (ours and Passenger's); true if one was there. */
export function takeOobRequest(headers: string[]): boolean {
  let found = false;
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    const name = (headers[i] as string).toLowerCase();
    if (name === 'x-ferry-request-oob-work' || name === 'x-passenger-request-oob-work') {
      headers.splice(i, 2);
      found = true;
    }
  }
  return found;
}

/** max-request-time: when a request has run too long, and what to do with its process. */
export interface RequestDeadline {
  maxRequestTimeMs: number;
  onStuck(worker: WorkerProcess): void;
}

/** The connection to the app process was never made, so nothing of the request reached it. */
export function isNeverSent(err: Error & { code?: string }, req: http.IncomingMessage): boolean {
  const neverConnected = err.code === 'ECONNREFUSED' || err.code === 'ENOENT';
  return neverConnected && (!hasRequestBody(req) || !req.readableDidRead);
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
}

/** What undici reports when nothing listens on the process's socket: the request was never sent. */
function injectedRefusal(session: Session): Error & { code: string } {
  return Object.assign(new Error(`connect ECONNREFUSED (injected fault: upstream-connect, app pid ${session.worker.pid})`), { code: 'ECONNREFUSED' });
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
    // Asynchronously, as undici reports a refused connection; from here on it is one.
    process.nextTick(() => handler.onError(injectedRefusal(session)));
    return;
  }
  session.worker.upstream.dispatch(
    {
      path: req.url ?? '/',
      method: req.method as Dispatcher.HttpMethod,
      headers: buildUpstreamHeaders(req.rawHeaders, facts),
      // undici takes async iterables too (docs/api/Dispatcher.md); its typings name only Readable.
      body: hasRequestBody(req) ? (limitedBody(req, options.maxBodyBytes ?? 0) as Readable) : null,
    },
    handler,
  );
}

/** Writes the handshake to the app and splices the two sockets together. */
export function tunnelUpgrade(
  req: http.IncomingMessage,
  clientSocket: Duplex,
  head: Buffer,
  session: Session,
  facts: ForwardingFacts,
  onFail: () => void,
): void {
  const worker = session.worker;
  const upstream = 'socketPath' in worker.address ? net.connect(worker.address.socketPath) : net.connect(worker.address.port, worker.address.host);
  let connected = false;
  upstream.once('connect', () => {
    connected = true;
    const headers = buildUpstreamHeaders(req.rawHeaders, { ...facts, upgrade: true });
    let handshake = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) handshake += `${headers[i]}: ${headers[i + 1]}\r\n`;
    upstream.write(handshake + '\r\n');
    if (head.length > 0) upstream.write(head);
    clientSocket.pipe(upstream).pipe(clientSocket);
  });
  upstream.on('error', () => {
    if (!connected) onFail();
    clientSocket.destroy();
  });
  clientSocket.on('error', () => upstream.destroy());
  upstream.on('close', () => {
    clientSocket.destroy();
    session.close();
  });
  clientSocket.on('close', () => upstream.destroy());
}
