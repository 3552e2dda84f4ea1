// The cache's refresh of a stale entry that a client was just answered with
// (stale-while-revalidate, RFC 5861 §3): the same request, sent to the app apart from that
// client, whose answer only the cache reads (a 304 freshens the entry, a 200 replaces it). The
// client's fields go with it (a cookie variant is refreshed with its own cookie) under a request
// id of its own; it queues for a process like any request and is bounded by max-request-time.
// Whatever happens, the requests waiting on the entry are told (tx.settle).

import type { ResponseHead } from '../../engine/response-head.js';
import type { AppGroup } from '../../pool/app-group.js';
import type { Session } from '../../pool/session.js';
import type { CacheTransaction } from '../../turbocache/cache-front.js';
import type { UpstreamExchange, UpstreamHandler } from '../../upstream/upstream-exchange.js';
import { nextRequestId } from '../error-responses.js';
import { buildDownstreamHeaders } from '../headers.js';
import type { StageContext } from './context.js';
import { upstreamHeadersOf } from './forward.js';
import type { ProxyRequest } from './proxy-request.js';
import { flatFields } from './request-fields.js';

export function refreshInBackground(request: ProxyRequest, tx: CacheTransaction): void {
  const { ctx, group, origin } = request;
  if (group === undefined || origin === undefined) {
    tx.settle('not-stored');
    return;
  }
  const requestId = nextRequestId();
  const refresh = new BackgroundRefresh(ctx, group, tx, requestId, { method: 'GET', path: origin.target, headers: upstreamHeadersOf(request, requestId, tx) });
  ctx.log.debug('refreshing a stale cache entry in the background', { reqId: requestId, forReqId: request.requestId, path: origin.target });
  refresh.start();
}

class BackgroundRefresh implements UpstreamHandler {
  private session: Session | undefined;
  private upstream: UpstreamExchange | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(
    private readonly ctx: StageContext,
    private readonly group: AppGroup,
    private readonly tx: CacheTransaction,
    private readonly requestId: string,
    private readonly head: { method: string; path: string; headers: string[] },
  ) {}

  start(): void {
    let checkedOut;
    try {
      checkedOut = this.group.checkout(undefined);
    } catch (err) {
      this.end(err as Error);
      return;
    }
    if (checkedOut instanceof Promise) checkedOut.then((session) => this.send(session), (err: unknown) => this.end(err as Error));
    else this.send(checkedOut);
  }

  private send(session: Session): void {
    this.session = session;
    const { maxRequestTimeMs } = this.group.app.limits;
    if (maxRequestTimeMs > 0) this.timer = setTimeout(() => this.upstream?.abort(new Error('max-request-time exceeded')), maxRequestTimeMs);
    this.upstream = session.worker.upstream.dispatch({ ...this.head, body: null }, this);
  }

  onHead(head: ResponseHead): void {
    this.tx.onHeaders(head.status, head.reason, buildDownstreamHeaders(flatFields(head.fields)));
  }

  onData(chunk: Buffer): boolean {
    this.tx.onData(chunk);
    return true;
  }

  onComplete(): void {
    this.tx.onComplete();
    this.end(undefined);
  }

  onError(err: Error): void {
    this.end(err);
  }

  /** Once: the process is free, and whoever waits on the entry hears how it went. */
  private end(err: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.session?.close();
    this.tx.settle('not-stored');
    if (err !== undefined) this.ctx.log.warn('could not refresh a stale cache entry', { reqId: this.requestId, err: err.message });
  }
}
