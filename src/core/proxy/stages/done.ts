// Stage 6, done: the exchange is over, however it ended. A request still at the app is stopped
// (the client went, or its body was refused), its session closed, and it is counted: the tracker (`ferry status`), the app's status counts and latency, 5xx per process;
// and its access line is written.

import type { ExchangeOutcome } from '../../front/exchange.js';
import { ClientGoneError } from '../request-body.js';
import { endAccess } from './access.js';
import type { ProxyRequest } from './proxy-request.js';

export function finish(request: ProxyRequest, outcome: ExchangeOutcome): void {
  // A tunnel took the socket over (detached): tunnel.ts ends the request when the tunnel closes.
  if (request.state === 'done' || request.state === 'tunnel') return;
  const { ctx, group, tracked } = request;
  const atApp = request.state === 'forwarding' || request.state === 'responding';
  request.to('done');
  clearTimeout(request.deadlineTimer);
  if (outcome === 'answered') {
    // Answered before the app read all of the body: its reader must not wait for the rest.
    request.body?.end();
  } else {
    const why = new Error(outcome === 'body-refused' ? 'the request body was refused' : 'client closed the connection');
    request.body?.fail(why);
    request.upload?.fail(new ClientGoneError());
    if (atApp) {
      request.clientGone = true;
      request.upstream?.abort(why);
    }
  }
  request.session?.close();
  request.compressor?.destroy();
  // A file from public/ still being read (a client gone mid-way): its descriptor closes.
  request.file?.close();
  // Buffered bodies and answers: their memory and files go with the request, however it ended.
  request.upload?.dispose();
  request.held?.buffer.dispose();
  endAccess(request);
  if (!tracked || !group) return;
  ctx.tracker.end(tracked);
  // A response cut before its head counts as 200 (as node:http reports it, which the counters always had).
  const status = request.status === 0 ? 200 : request.status;
  ctx.tracker.countStatus(status);
  group.stats.responses.count(status);
  if (status >= 500) group.countServerError(tracked.worker);
  group.stats.latency.observe((Date.now() - tracked.startedAtMs) / 1000);
  if (ctx.log.debugEnabled) {
    ctx.log.debug('request done', { reqId: request.requestId, method: tracked.method, path: tracked.path, app: group.name, status, durationMs: Date.now() - tracked.startedAtMs, appPid: tracked.worker?.pid });
  }
}
