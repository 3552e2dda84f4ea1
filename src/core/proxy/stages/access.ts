// The access log in the stage proxy: a ProxyRequest gets its entry when it arrives (access-log.ts
// says what a line holds), the cache stage marks a hit on it, and done writes the line with what
// the exchange read and sent: one line per answer of every kind (door refusals, health checks,
// cache hits, proxied answers, clients that left). The front's own refusals of requests no stage
// saw are logged by front-proxy.ts.

import type { ProxyRequest } from './proxy-request.js';

export function beginAccess(request: ProxyRequest): void {
  const { accessLog } = request.ctx;
  if (accessLog === undefined) return;
  // The front takes a connection's next request only once the last answer is out: from here on,
  // what the connection sends is this request's.
  request.access = accessLog.begin(request.exchange.host.socket.bytesWritten, undefined);
}

export function endAccess(request: ProxyRequest): void {
  const { access, exchange } = request;
  const { accessLog } = request.ctx;
  if (access === undefined || accessLog === undefined) return;
  const { head } = exchange;
  access.client = accessLog.clientOf(exchange.remoteAddress, request.headers['x-forwarded-for'] ?? exchange.field('x-forwarded-for'));
  if (request.requestId !== '') access.requestId = request.requestId;
  access.app = request.group?.name;
  access.tracked = request.tracked;
  // The turbocache's verdict on a request that went to the app: asked it and may store, or stayed out.
  if (access.cache === undefined && request.cache !== undefined) access.cache = request.cache.lookedUp ? 'miss' : 'bypass';
  const facts = {
    method: head.method,
    target: request.origin?.target ?? head.target,
    httpVersion: head.version,
    referer: exchange.field('referer'),
    userAgent: exchange.field('user-agent'),
  };
  accessLog.end(access, facts, request.status !== 0, request.status, exchange.host.socket.bytesWritten - access.startBytes);
}
