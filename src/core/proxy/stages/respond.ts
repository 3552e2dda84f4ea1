// Stage 5, respond: the app's answer to the client as it comes. The head: the app's fields
// without hop-by-hop ones, the out-of-band work request and Ferry-Cache-Control taken out,
// X-Ferry-Cache and the sticky cookie added; the body: each decoded piece written through the
// exchange (which frames it: Content-Length as the app gave it, else chunked), with backpressure
// both ways: a full client socket stops reading the app until the client drains, unless response
// buffering holds what the client cannot take yet (response-buffering.ts), so that the app is
// done as soon as it can be. Failures before the head: a refused connection is retried on another
// process, max-request-time is 504, anything else 502; after the head, the client's connection is
// cut so that it sees a broken answer.

import type { ResponseHead } from '../../engine/response-head.js';
import { CACHE_HEADER, dropFerryCacheControl } from '../../turbocache/cache-front.js';
import { neverSent } from '../never-sent.js';
import { takeOobRequest } from '../oob-request.js';
import { buildDownstreamHeaders } from '../headers.js';
import { stickyCookieFor } from '../sticky-session.js';
import { canAnswer, writeError } from './answers.js';
import { checkoutSession } from './checkout.js';
import type { ProxyRequest } from './proxy-request.js';
import { flatFields } from './request-fields.js';
import { drainHeld, hold, startHolding } from './response-buffering.js';
import { answerStale, SERVER_ERRORS } from './stale-answer.js';
import { compressedFields, compressionFor } from '../compression.js';
import { ResponseCompressor } from './compress.js';

/** Tries per request when app processes refuse connections (Passenger tries up to 10). */
export const MAX_ATTEMPTS = 3;

export function onAppHead(request: ProxyRequest, head: ResponseHead): void {
  const { exchange } = request;
  const group = request.group;
  const session = request.session;
  if (!group || !session || request.state !== 'forwarding') return;
  // An upgrade's wait ends with the app's head: a declined answer is an answer like any other.
  if (exchange.upgrade) clearTimeout(request.deadlineTimer);
  request.to('responding');
  if (request.tracked) request.tracked.state = 'responding';
  let headers = buildDownstreamHeaders(flatFields(head.fields));
  // The app asks for out-of-band work: a note for Ferry, not for the client.
  if (takeOobRequest(headers)) group.requestOobWork(session.worker);
  // The app failed, and the cache may answer with its stale copy instead (stale-if-error).
  if (SERVER_ERRORS.has(head.status) && request.cache?.staleOnError(exchange.method === 'HEAD') !== undefined) return;
  // --compression: the cache then keeps the compressed answer, as a variant by Accept-Encoding.
  const coding = request.ctx.compression === true ? compressionFor({ method: exchange.method, acceptEncoding: request.headers['accept-encoding'], status: head.status, fields: headers }) : undefined;
  if (coding !== undefined) {
    headers = compressedFields(headers, coding);
    request.compressor = new ResponseCompressor(coding, {
      out: (chunk) => toClient(request, chunk),
      drained: () => request.upstream?.resume(),
      done: () => {
        const counts = request.ctx.tracker.compression;
        const compressor = request.compressor as ResponseCompressor;
        counts.responses++;
        counts.bytesIn += compressor.bytesIn;
        counts.bytesOut += compressor.bytesOut;
        answerComplete(request);
      },
      failed: (err) => {
        request.ctx.log.error('could not compress an answer; the response is cut off', { reqId: request.requestId, err });
        request.upstream?.abort(err);
        exchange.destroy();
      },
    });
  }
  // Decided on the app's own headers, before Ferry adds its sticky-session cookie.
  const cacheStatus = request.cache?.onHeaders(head.status, head.reason, headers);
  // Ferry-Cache-Control was for the cache alone, which has read it now.
  dropFerryCacheControl(headers);
  // The app confirmed the cache's stale copy (304 to Ferry's conditional request): the client
  // gets that copy once the app's answer is complete (onAppComplete), not the 304.
  if (request.cache?.instead !== undefined) return;
  if (cacheStatus !== undefined) headers.push(CACHE_HEADER, cacheStatus);
  const setCookie = stickyCookieFor(group.app, request.headers.cookie, session.worker.stickyId);
  if (setCookie !== undefined) headers.push('Set-Cookie', setCookie);
  request.status = head.status;
  try {
    exchange.writeHead(head.status, head.reason, headers);
  } catch (err) {
    // A head the front will not write (a status outside 200-599, a bad field): the app's fault.
    request.upstream?.abort(err as Error);
  }
}

export function onAppData(request: ProxyRequest, chunk: Buffer): boolean {
  // The body of an answer the client does not get (the cache answers instead): dropped.
  if (request.cache?.instead !== undefined) return true;
  if (request.compressor !== undefined) return request.compressor.write(chunk);
  return toClient(request, chunk);
}

/** A piece of the answer as the client gets it (the app's, or compressed): to the cache, then the client; false: pause what feeds it. */
function toClient(request: ProxyRequest, chunk: Buffer): boolean {
  request.cache?.onData(chunk);
  const { held } = request;
  if (held !== undefined && held.mode === 'holding') return hold(request, held, chunk);
  // The common case, a client that keeps up: straight through, as it comes.
  if (request.exchange.write(chunk)) return true;
  // The client is slower than the app: hold what it cannot take yet (response-buffering.ts), or
  // false: the upstream exchange stops reading the app until onClientDrain resumes it.
  return startHolding(request);
}

export function onClientDrain(request: ProxyRequest): void {
  const { held } = request;
  if (held !== undefined && held.mode === 'holding') drainHeld(request, held);
  else request.resumeSource();
}

export function onAppComplete(request: ProxyRequest): void {
  clearTimeout(request.deadlineTimer);
  // The app is done with it: free the session now, even if a slow client is still reading.
  request.session?.close();
  // The app has answered, so it has had all of the body it wanted: the buffered copy can go.
  request.upload?.dispose();
  // Compressed: the answer is complete once the compressor has let out the rest.
  if (request.compressor !== undefined) request.compressor.end();
  else answerComplete(request);
}

/** The client's answer has all of its body (held back for a slow client, perhaps): the cache stores it, and the answer ends. */
function answerComplete(request: ProxyRequest): void {
  request.cache?.onComplete();
  if (request.state !== 'responding') return;
  if (request.held?.mode === 'holding') {
    // A slow client still takes the rest from the buffer; the answer ends when it has all of it.
    request.to('draining');
    if (request.tracked) request.tracked.state = 'draining';
    return;
  }
  const instead = request.cache?.instead;
  if (instead !== undefined) {
    request.answer(instead);
    return;
  }
  request.to('answered');
  request.exchange.end();
}

export function onAppError(request: ProxyRequest, err: Error & { code?: string }): void {
  request.session?.close();
  if (request.clientGone || request.state === 'done') return;
  const { ctx, exchange, group, session } = request;
  // The app failed in the middle of an answer the client was not to get anyway (a 5xx the cache answers instead).
  const instead = request.cache?.instead;
  if (instead !== undefined && request.state === 'responding') {
    clearTimeout(request.deadlineTimer);
    request.answer(instead);
    return;
  }
  const answering = canAnswer(exchange) && request.state === 'forwarding';
  if (request.timedOut) {
    clearTimeout(request.deadlineTimer);
    if (answering && answerStale(request)) return;
    request.status = 504;
    request.to('answered');
    const reason = exchange.upgrade ? 'The application did not answer this upgrade request in time.' : 'The application took too long to answer this request.';
    if (answering) writeError(exchange, { status: 504, reason, requestId: request.requestId });
    else exchange.destroy();
    return;
  }
  if (answering && group && session && request.attempt < MAX_ATTEMPTS && neverSent(err.code, request.body === undefined || !request.body.touched)) {
    // A process that refuses connections is broken: take it out and send the request elsewhere.
    ctx.log.warn('app process refused the connection; retrying the request on another process', { reqId: request.requestId, appPid: session.worker.pid, code: err.code, attempt: request.attempt });
    group.detach(session.worker.pid);
    request.attempt++;
    request.session = undefined;
    request.upstream = undefined;
    if (request.tracked) request.tracked.worker = undefined;
    checkoutSession(request);
    return;
  }
  clearTimeout(request.deadlineTimer);
  if (!answering) {
    // The response was under way: the client must see a broken message, not a complete one.
    ctx.log.warn('app process failed while answering; the response is cut off', { reqId: request.requestId, appPid: session?.worker.pid, err: err.message, code: err.code });
    if (request.state !== 'answered') request.to('answered');
    exchange.destroy();
    return;
  }
  ctx.log.warn('app process failed during a request', { reqId: request.requestId, appPid: session?.worker.pid, err: err.message, code: err.code });
  if (answerStale(request)) return;
  request.status = 502;
  request.to('answered');
  writeError(exchange, { status: 502, reason: 'The application process failed while handling this request.', requestId: request.requestId });
}
