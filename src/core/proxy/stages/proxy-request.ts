// ProxyRequest: one request through the stage proxy, from the front's Exchange to the app and
// back, and everything about it in one object (the group, the request id, the tracked request, the
// cache transaction, the session, the body, the upstream exchange). Its states are one union with
// their transitions in one table; the object is the exchange's listener, the upstream exchange's
// handler and the cache's client, so the stages (accept → static → cache → checkout → forward →
// respond → done, each in its own file; tunnel after a 101) need no closures per request.

import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { AccessEntry } from '../../access-log/access-log.js';
import type { ResponseHead } from '../../engine/response-head.js';
import type { Exchange, ExchangeListener, ExchangeOutcome } from '../../front/exchange.js';
import type { AppGroup } from '../../pool/app-group.js';
import type { Session } from '../../pool/session.js';
import { CACHE_HEADER, type CacheClient, type CacheHit, type CacheTransaction } from '../../turbocache/cache-front.js';
import type { UpstreamExchange, UpstreamHandler } from '../../upstream/upstream-exchange.js';
import type { RequestOrigin } from '../authority.js';
import type { RequestBodyBuffer } from '../request-body.js';
import type { TrackedRequest } from '../request-tracker.js';
import { cacheHitBytes, writeError } from './answers.js';
import type { StageContext } from './context.js';
import type { ExchangeBody } from './request-body.js';
import type { HeldAnswer } from './held-answer.js';
import type { ResponseCompressor } from './compress.js';

export type ProxyState =
  /** The door, the health check, routing. */
  | 'accepting'
  /** Looking for the file a GET/HEAD names under the app's public/ (none: on to the cache). */
  | 'finding-file'
  /** A file from public/ is streaming to the client. */
  | 'sending-file'
  /** Waiting for another request's fill of the same cache entry. */
  | 'cache-wait'
  /** Upload buffering: the body is read whole from the client before a process is checked out. */
  | 'receiving'
  /** Waiting for a process (group.checkout). */
  | 'checking-out'
  /** Sent to the app; no answer yet. */
  | 'forwarding'
  /** The app's answer is streaming to the client. */
  | 'responding'
  /** The app answered an upgrade with 101: the client and the app are spliced until either closes. */
  | 'tunnel'
  /** The app is done (its session freed); a slow client still takes the rest from the response buffer. */
  | 'draining'
  /** Ferry or the cache answered (or the app's answer is all written); the exchange is not over yet. */
  | 'answered'
  /** The exchange is over: counted, session closed. */
  | 'done';

const NEXT: Readonly<Record<ProxyState, readonly ProxyState[]>> = {
  accepting: ['finding-file', 'cache-wait', 'receiving', 'checking-out', 'answered', 'done'],
  // No file there: the cache and the app, as from accepting.
  'finding-file': ['sending-file', 'cache-wait', 'receiving', 'checking-out', 'answered', 'done'],
  'sending-file': ['answered', 'done'],
  'cache-wait': ['receiving', 'checking-out', 'answered', 'done'],
  receiving: ['checking-out', 'answered', 'done'],
  'checking-out': ['forwarding', 'answered', 'done'],
  // Back to checking-out: the process refused the connection, the request goes to another one.
  forwarding: ['checking-out', 'responding', 'tunnel', 'answered', 'done'],
  responding: ['draining', 'answered', 'done'],
  draining: ['answered', 'done'],
  tunnel: ['done'],
  answered: ['done'],
  done: [],
};

/**
 * Where a request's events go: the stages (front-proxy.ts wires respond.ts, tunnel.ts and
 * done.ts in), so that this file, which every stage reads, imports none of them.
 */
export interface RequestStages {
  appHead(request: ProxyRequest, head: ResponseHead): void;
  /** false: stop reading the app until the client drains. */
  appData(request: ProxyRequest, chunk: Buffer): boolean;
  appComplete(request: ProxyRequest): void;
  appError(request: ProxyRequest, err: Error & { code?: string }): void;
  appUpgrade(request: ProxyRequest, head: ResponseHead, socket: Socket, rest: Buffer): void;
  clientDrain(request: ProxyRequest): void;
  done(request: ProxyRequest, outcome: ExchangeOutcome): void;
  /** The cache's refresh of a stale entry, sent to the app apart from this request (background-refresh.ts). */
  refresh(request: ProxyRequest, tx: CacheTransaction): void;
}

export class ProxyRequest implements ExchangeListener, UpstreamHandler, CacheClient {
  state: ProxyState = 'accepting';
  requestId = '';
  origin: RequestOrigin | undefined;
  /** The client's fields, flat [name, value, ...] (headers.ts reads them). */
  rawHeaders: string[] = [];
  headers: IncomingHttpHeaders = {};
  group: AppGroup | undefined;
  tracked: TrackedRequest | undefined;
  cache: CacheTransaction | undefined;
  session: Session | undefined;
  /** The body streamed to the app as the client sends it ... */
  body: ExchangeBody | undefined;
  /** ... or read whole first (upload buffering). */
  upload: RequestBodyBuffer | undefined;
  /** What a slow client has not taken yet of the app's answer (response buffering). */
  held: HeldAnswer | undefined;
  upstream: UpstreamExchange | undefined;
  /** --compression: the compressor the app's body goes through (stages/compress.ts), when it is compressed. */
  compressor: ResponseCompressor | undefined;
  /** The file from public/ being sent (stages/static.ts), in `sending-file`. */
  file: { resume(): void; close(): void } | undefined;
  /** The head for the app, built once (a retry sends the same). */
  upstreamHeaders: string[] | undefined;
  /** The status the client got (for the counters). */
  status = 0;
  attempt = 1;
  /** max-request-time passed: the app's failure is answered 504. */
  timedOut = false;
  deadlineTimer: NodeJS.Timeout | undefined;
  /** The app was told to stop: the client went, or its body was refused. */
  clientGone = false;
  /** Its access line as the stages fill it (--access-log only). */
  access: AccessEntry | undefined;
  private closers: (() => void)[] | undefined;

  constructor(
    readonly ctx: StageContext,
    readonly exchange: Exchange,
    private readonly stages: RequestStages,
  ) {}

  to(next: ProxyState): void {
    if (!NEXT[this.state].includes(next)) throw new Error(`proxy request ${this.requestId}: no transition from ${this.state} to ${next}`);
    this.state = next;
  }

  // --- the exchange's listener ---

  onBodyData(chunk: Buffer): void {
    (this.upload ?? this.body)?.push(chunk);
  }

  onBodyEnd(): void {
    (this.upload ?? this.body)?.end();
  }

  onDrain(): void {
    if (this.state === 'sending-file') this.file?.resume();
    else this.stages.clientDrain(this);
  }

  onDone(outcome: ExchangeOutcome): void {
    this.stages.done(this, outcome);
    for (const close of this.closers?.splice(0) ?? []) close();
  }

  // --- the upstream exchange's handler ---

  onHead(head: ResponseHead): void {
    this.stages.appHead(this, head);
  }

  onData(chunk: Buffer): boolean {
    return this.stages.appData(this, chunk);
  }

  onComplete(): void {
    this.stages.appComplete(this);
  }

  onError(err: Error & { code?: string }): void {
    this.stages.appError(this, err);
  }

  onUpgrade(head: ResponseHead, socket: Socket, rest: Buffer): void {
    this.stages.appUpgrade(this, head, socket, rest);
  }

  // --- the cache's client ---

  get gone(): boolean {
    return this.state === 'done' || this.exchange.answer === 'aborted';
  }

  onClose(listener: () => void): void {
    (this.closers ??= []).push(listener);
  }

  /** What feeds the client's answer may go on: the compressor when there is one, else the app. */
  resumeSource(): void {
    if (this.compressor !== undefined) this.compressor.resume();
    else this.upstream?.resume();
  }

  refresh(tx: CacheTransaction): void {
    this.stages.refresh(this, tx);
  }

  answer(hit: CacheHit): void {
    const { exchange } = this;
    this.status = hit.status;
    if (this.access) this.access.cache = 'hit';
    this.to('answered');
    exchange.writeRaw(cacheHitBytes(hit, exchange.head.version, exchange.mustClose));
  }

  notCached(lookedUp: boolean, cacheStatus: string | undefined): void {
    this.status = 504;
    if (this.access) this.access.cache = lookedUp ? 'miss' : 'bypass';
    this.to('answered');
    const reason = 'The request asked for a cached answer only (only-if-cached), and the cache has no fresh answer for it.';
    writeError(this.exchange, { status: 504, reason, requestId: this.requestId, ...(cacheStatus === undefined ? {} : { headers: { [CACHE_HEADER]: cacheStatus } }) });
  }
}
