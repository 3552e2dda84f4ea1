// Stage 2, the turbocache: a hit is answered here (ProxyRequest.answer writes it in one buffer);
// a miss or bypass goes to the app with its transaction; while another request fills the same
// entry, this one waits for it (cache-front.ts decides all of that, for either front).

import { toApp } from './checkout.js';
import { checkoutFailed } from './errors.js';
import type { ProxyRequest } from './proxy-request.js';

export function lookUpCache(request: ProxyRequest): void {
  const { ctx } = request;
  const group = request.group;
  if (!ctx.cache || !request.origin || !group) {
    toApp(request);
    return;
  }
  const begun = ctx.cache.begin({ method: request.exchange.method, headers: request.headers, origin: request.origin }, request);
  if (begun instanceof Promise) {
    request.to('cache-wait');
    begun.then(
      (cache) => {
        if (cache) {
          request.cache = cache;
          toApp(request);
        } else if (request.state !== 'done') ctx.tracker.countAnswered(request.status, group.stats.responses);
      },
      (err: unknown) => checkoutFailed(request, err),
    );
    return;
  }
  if (begun) {
    request.cache = begun;
    toApp(request);
    return;
  }
  ctx.tracker.countAnswered(request.status, group.stats.responses);
}
