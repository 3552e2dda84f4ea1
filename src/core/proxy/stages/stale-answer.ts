// Stale-if-error (RFC 5861 §4, and --turbocache-serve-stale-on-error): when the app fails (a
// 5xx, no answer in time, a broken connection, no process that can start), the client gets the
// cache's stale copy of the page, if one is kept and may still stand in (cache-front.ts decides),
// instead of the error. respond.ts and errors.ts ask here at each point they would answer one.

import type { ProxyRequest } from './proxy-request.js';

/** The statuses a stale entry may stand in for. */
export const SERVER_ERRORS: ReadonlySet<number> = new Set([500, 502, 503, 504]);

/** The app failed before answering: the cache's stale copy instead of the error, if it may serve it. */
export function answerStale(request: ProxyRequest): boolean {
  const stale = request.cache?.staleOnError(request.exchange.method === 'HEAD');
  if (stale === undefined) return false;
  request.ctx.log.info('the app failed; answered with a stale copy from the cache', { reqId: request.requestId });
  request.answer(stale);
  return true;
}
