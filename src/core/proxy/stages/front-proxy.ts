// createFrontProxyServer: the proxy built from stages over Ferry's own front (src/core/front) and
// upstream client (src/core/upstream), chosen with FERRY_ENGINE=front. Each request becomes one
// ProxyRequest that goes through accept → cache → checkout → forward → respond → done. It has the
// ProxyServer shape main.ts drives (listen, handOver, stop); what it does not serve yet is in the
// README ("FERRY_ENGINE=front").

import type { Exchange, FrontHandler } from '../../front/exchange.js';
import type { FrontConnection } from '../../front/connection.js';
import { createFrontServer } from '../../front/server.js';
import { nextRequestId } from '../error-responses.js';
import { RequestTracker } from '../request-tracker.js';
import type { ProxyServer, ProxyServerOptions } from '../server.js';
import { accept } from './accept.js';
import type { StageContext } from './context.js';
import { ProxyRequest } from './proxy-request.js';

/** The front's handler: one ProxyRequest per exchange, into the first stage. */
export function stageHandler(ctx: StageContext): FrontHandler {
  return (exchange) => {
    const request = new ProxyRequest(ctx, exchange);
    exchange.listener = request;
    accept(request);
  };
}

/**
 * The front's own refusals, counted as server.ts counts its door's: a request refused before it
 * was routed in `unrouted` (node:http's parser refusals and header timeouts are not counted today,
 * so 408 is not); one already at a stage (a body over the limit) gets the status for its counts.
 */
export function countRefusal(ctx: StageContext, status: number, exchange: Exchange | undefined): void {
  const request = exchange?.listener;
  if (request instanceof ProxyRequest) {
    if (request.tracked !== undefined) request.status = status;
    return;
  }
  if (status !== 408) ctx.tracker.countAnswered(status);
}

/** The accept fault point (FERRY_FAULTS): a connection it falls on gets its first request answered 503. */
export function acceptFault(ctx: StageContext): ((connection: FrontConnection) => void) | undefined {
  const { faults, faultedConnections } = ctx;
  if (!faults || !faultedConnections) return undefined;
  return (connection) => {
    if (faults.fails('accept', { remoteAddress: connection.remoteAddress })) faultedConnections.add(connection);
  };
}

export function createFrontProxyServer(opts: ProxyServerOptions): ProxyServer {
  const tracker = new RequestTracker();
  const { responseBufferHighWatermarkBytes } = opts.buffering;
  const ctx: StageContext = {
    pool: opts.pool,
    log: opts.log,
    tracker,
    trustForwarded: opts.trustForwarded,
    cache: opts.cache,
    health: opts.health,
    maxBodyBytes: opts.limits.maxBodyBytes,
    bufferUploads: opts.buffering.bufferUploads,
    bufferDir: opts.bufferDir,
    responseBuffer: responseBufferHighWatermarkBytes > 0 ? { highWatermarkBytes: responseBufferHighWatermarkBytes, dir: opts.bufferDir } : undefined,
    accessLog: opts.accessLog,
    faults: opts.faults,
    faultedConnections: opts.faults ? new WeakSet() : undefined,
  };
  const front = createFrontServer({
    limits: opts.limits,
    nextRequestId,
    counts: tracker,
    log: opts.log,
    handler: stageHandler(ctx),
    onRefused: (status, exchange) => countRefusal(ctx, status, exchange),
    onConnection: acceptFault(ctx),
  });
  return {
    server: front.server,
    tracker,
    handOver: (deadlineMs) => front.handOver(deadlineMs),
    // No tunnels: upgrades are refused by this engine for now.
    closeTunnels: () => undefined,
    closeIdle: () => front.stop(),
    closeAll: () => front.destroyAll(),
  };
}
