// Stage 1, accept: the health check, the accept fault, the door (request-door.ts's verdicts over
// the engine's head), `OPTIONS *`, and routing to an app group; then static files, then the cache
// stage (an upgrade: checkout). The front has already refused what the engine's parser refuses
// (framing, sizes, timeouts); the door adds Ferry's own rules (Host, reserved paths, an announced
// body over --max-body-size, X-Forwarded-* when trusted).

import type { RequestHead } from '../../engine/request-head.js';
import { nextRequestId } from '../error-responses.js';
import { chooseRequestId } from '../headers.js';
import { healthVerdict, isHealthCheckRequest } from '../health-check.js';
import { acceptFaultAnswer } from '../injected-faults.js';
import { doorVerdict, type DoorRequest, type DoorVerdict } from '../request-door.js';
import { writeError, writeHealth, writeServerOptions } from './answers.js';
import { toApp } from './checkout.js';
import type { StageContext } from './context.js';
import type { ProxyRequest } from './proxy-request.js';
import { flatFields, headersObject } from './request-fields.js';
import { serveFromPublic } from './static.js';

/** What the door reads, from the engine's head: the target as sent (the door parses its form itself). */
export function doorRequestOf(head: RequestHead, rawHeaders: string[], headers: DoorRequest['headers']): DoorRequest {
  return { method: head.method, url: head.target, httpVersion: head.version, rawHeaders, headers };
}

/** The door's verdict on an engine head (pure). */
export function engineDoorVerdict(head: RequestHead, opts: { trustForwarded: boolean; maxBodyBytes: number }): DoorVerdict {
  const rawHeaders = flatFields(head.fields);
  return doorVerdict(doorRequestOf(head, rawHeaders, headersObject(head.fields)), opts);
}

export function accept(request: ProxyRequest): void {
  const { ctx, exchange } = request;
  const { head } = exchange;
  if (ctx.health !== undefined && (head.method === 'GET' || head.method === 'HEAD') && isHealthCheckRequest(head.target, ctx.health.path)) {
    answerHealth(request, ctx);
    return;
  }
  request.rawHeaders = flatFields(head.fields);
  request.headers = headersObject(head.fields);
  const given = request.headers['x-request-id'];
  request.requestId = chooseRequestId(given, ctx.trustForwarded, nextRequestId);
  // The accept fault (FERRY_FAULTS): the connection's first request is answered 503, then it closes.
  if (ctx.faultedConnections?.delete(exchange.host) === true) {
    refuse(request, acceptFaultAnswer(request.requestId));
    return;
  }
  const verdict = doorVerdict(doorRequestOf(head, request.rawHeaders, request.headers), { trustForwarded: ctx.trustForwarded, maxBodyBytes: ctx.maxBodyBytes });
  if (!verdict.admitted) {
    refuse(request, { ...verdict.refusal, requestId: request.requestId });
    return;
  }
  const { origin } = verdict;
  request.origin = origin;
  // An asterisk-form target asks about the server, not a resource (RFC 9110 §9.3.7).
  if (origin.target === '*') {
    request.status = 200;
    ctx.tracker.countAnswered(200);
    request.to('answered');
    writeServerOptions(exchange);
    return;
  }
  // Ferry is no forward proxy: a CONNECT (in origin-form, the door took it) would be a tunnel on a 2xx.
  if (exchange.method === 'CONNECT') {
    refuse(request, { status: 400, reason: 'CONNECT is not served here.', requestId: request.requestId, close: true });
    return;
  }
  // Its end could only be found by decoding it; no WebSocket handshake has a body at all.
  if (exchange.upgrade && head.framing.body.kind === 'chunked') {
    refuse(request, { status: 400, reason: 'An Upgrade request with a chunked body is not supported.', requestId: request.requestId, close: true });
    return;
  }
  const group = ctx.pool.groupFor(origin.host?.name);
  if (!group) {
    refuse(request, { status: 404, reason: `No application is served for the host '${origin.host?.text ?? ''}'.`, requestId: request.requestId });
    return;
  }
  request.group = group;
  // An upgrade is never answered from public/ or the cache (nor stored): it goes to the app, tunnel.ts after a 101.
  if (exchange.upgrade) toApp(request);
  else serveFromPublic(request);
}

/** Refused before routing: counted in `unrouted`. */
function refuse(request: ProxyRequest, error: Parameters<typeof writeError>[1]): void {
  request.status = error.status;
  request.ctx.tracker.countAnswered(error.status);
  request.to('answered');
  writeError(request.exchange, error);
}

function answerHealth(request: ProxyRequest, ctx: StageContext): void {
  const state = (ctx.health as NonNullable<StageContext['health']>).state;
  const verdict = healthVerdict({ serving: state.serving, draining: state.draining, apps: ctx.pool.groups.map((g) => ({ name: g.name, canServe: g.canServe() })) });
  request.status = verdict.httpStatus;
  request.to('answered');
  writeHealth(request.exchange, verdict);
}
