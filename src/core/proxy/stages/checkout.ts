// Stage 3, checkout: the request is tracked (`ferry status`), its body (if any) readied to stream
// to the app or read whole first (upload.ts), and a process checked out of the group (sticky by cookie when the app asks for it);
// then forward.

import { stickyIdOf } from '../sticky-session.js';
import { checkoutFailed } from './errors.js';
import { forward } from './forward.js';
import type { ProxyRequest } from './proxy-request.js';
import { shouldBufferBody } from '../request-body.js';
import { ExchangeBody } from './request-body.js';
import { receiveUpload } from './upload.js';

export function toApp(request: ProxyRequest): void {
  if (request.state === 'done') return;
  const { ctx, exchange } = request;
  const group = request.group;
  if (!group) throw new Error('toApp before routing');
  request.tracked = ctx.tracker.begin(request.requestId, exchange.method, request.origin?.target ?? exchange.path, group.name);
  if (exchange.body !== 'complete') {
    if (ctx.bufferDir !== undefined && shouldBufferBody(true, group.app.limits.concurrency, ctx.bufferUploads === true)) {
      receiveUpload(request, checkoutSession);
      return;
    }
    request.body = new ExchangeBody(exchange);
  }
  checkoutSession(request);
}

export function checkoutSession(request: ProxyRequest): void {
  const group = request.group;
  if (!group) throw new Error('checkout before routing');
  request.to('checking-out');
  if (request.tracked) request.tracked.state = 'queued';
  let checkedOut;
  try {
    checkedOut = group.checkout(stickyIdOf(group.app, request.headers.cookie));
  } catch (err) {
    checkoutFailed(request, err);
    return;
  }
  if (!(checkedOut instanceof Promise)) {
    forward(request, checkedOut);
    return;
  }
  checkedOut.then(
    (session) => {
      if (request.state === 'done') session.close();
      else forward(request, session);
    },
    (err: unknown) => checkoutFailed(request, err),
  );
}
