// Stage 4, forward: the request goes to the checked-out process over its upstream pool, with the
// head built once (headers.ts: hop-by-hop fields dropped, Ferry's forwarded fields added) and the
// body streamed from the client as the app's socket takes it. max-request-time starts here: it
// times the app, and stops when the app has answered. An upgrade keeps its Connection and Upgrade
// fields, and its wait is --websocket-idle-timeout instead, until the app's head: an app that
// never answers a handshake is idle (504), not stuck (its process is not replaced). The
// upstream-connect fault stands in for a refused connection here.

import type { Session } from '../../pool/session.js';
import type { CacheTransaction } from '../../turbocache/cache-front.js';
import { buildUpstreamHeaders } from '../headers.js';
import { injectedRefusal } from '../injected-faults.js';
import type { ProxyRequest } from './proxy-request.js';

export function forward(request: ProxyRequest, session: Session): void {
  const { ctx, exchange } = request;
  const group = request.group;
  if (!group) throw new Error('forward before routing');
  request.to('forwarding');
  request.session = session;
  const tracked = request.tracked;
  if (tracked) {
    tracked.worker = session.worker;
    tracked.state = 'forwarding';
  }
  const origin = request.origin;
  const upgrade = exchange.upgrade;
  const { upload } = request;
  if (request.upstreamHeaders === undefined) {
    const headers = upstreamHeadersOf(request, request.requestId, request.cache);
    // A buffered chunked body goes with its length (Transfer-Encoding is dropped with the hop-by-hop fields).
    if (upload?.needsLength === true) headers.push('Content-Length', String(upload.length));
    request.upstreamHeaders = headers;
  }
  const { maxRequestTimeMs } = group.app.limits;
  if (upgrade) {
    waitForUpgradeAnswer(request, session);
  } else if (maxRequestTimeMs > 0) {
    const worker = session.worker;
    clearTimeout(request.deadlineTimer);
    request.deadlineTimer = setTimeout(() => {
      if (request.state !== 'forwarding' && request.state !== 'responding') return;
      request.timedOut = true;
      void group.replaceStuck(worker, request.requestId).catch((err: unknown) => ctx.log.error('could not replace a stuck process', { err }));
      request.upstream?.abort(new Error('max-request-time exceeded'));
    }, maxRequestTimeMs);
  }
  if (ctx.faults?.fails('upstream-connect', { reqId: request.requestId, appPid: session.worker.pid })) {
    // Asynchronously, as the pool reports a refused connection; from here on it is one.
    process.nextTick(() => request.onError(injectedRefusal(session)));
    return;
  }
  request.upstream = session.worker.upstream.dispatch(
    { method: exchange.method, path: origin?.target ?? exchange.path, headers: request.upstreamHeaders, body: upload ? upload.upstreamBody() : (request.body ?? null), upgrade },
    request,
  );
}

/**
 * The head's fields for the app: the client's without hop-by-hop ones, Ferry's forwarded fields
 * under `requestId`, and, for a stale cache entry, the validators the app is asked about (RFC
 * 9111 §4.3.1).
 */
export function upstreamHeadersOf(request: ProxyRequest, requestId: string, cache: CacheTransaction | undefined): string[] {
  const { ctx, exchange, origin } = request;
  const headers = buildUpstreamHeaders(request.rawHeaders, {
    remoteAddress: exchange.remoteAddress,
    trustForwarded: ctx.trustForwarded,
    requestId,
    scheme: origin?.scheme ?? 'http',
    host: origin?.host?.text,
    forwardedHost: origin?.forwardedHost?.text,
    upgrade: exchange.upgrade,
  });
  const conditional = cache?.conditionalFields();
  if (conditional !== undefined) headers.push(...conditional);
  return headers;
}

/** --websocket-idle-timeout for the app's answer to a handshake; onAppHead and the tunnel stop it. */
function waitForUpgradeAnswer(request: ProxyRequest, session: Session): void {
  const { ctx } = request;
  const idleTimeoutMs = ctx.websocketIdleTimeoutMs;
  if (idleTimeoutMs <= 0) return;
  clearTimeout(request.deadlineTimer);
  request.deadlineTimer = setTimeout(() => {
    if (request.state !== 'forwarding') return;
    ctx.log.warn('the app did not answer an upgrade request within the websocket idle timeout', { reqId: request.requestId, appPid: session.worker.pid, idleTimeoutMs });
    request.timedOut = true;
    request.upstream?.abort(new Error('no answer to the upgrade within the websocket idle timeout'));
  }, idleTimeoutMs);
}
