// createFrontProxyServer: Ferry's proxy, built from stages over its own front (src/core/front)
// and upstream client (src/core/upstream). Each request becomes one ProxyRequest that goes
// through accept → static → cache → checkout → forward → respond (or tunnel) → done. It has the
// ProxyServer shape main.ts drives (listen, handOver, stop, closeTunnels); docs/architecture.md
// ("The stage proxy") describes it.

import type { Exchange, FrontHandler } from '../../front/exchange.js';
import type { FrontConnection, FrontRefusal } from '../../front/connection.js';
import { createFrontServer } from '../../front/server.js';
import { nextRequestId } from '../error-responses.js';
import { RequestTracker } from '../request-tracker.js';
import { publicDirsFor, staticOutcomes } from '../static-files.js';
import type { ProxyServer, ProxyServerOptions } from '../proxy-server.js';
import { accept } from './accept.js';
import { beginAccess } from './access.js';
import { refreshInBackground } from './background-refresh.js';
import type { StageContext } from './context.js';
import { finish } from './done.js';
import { ProxyRequest, type RequestStages } from './proxy-request.js';
import { onAppComplete, onAppData, onAppError, onAppHead, onClientDrain } from './respond.js';
import { openTunnel } from './tunnel.js';

/** What each request's events go to (respond → done, or tunnel after a 101). */
const STAGES: RequestStages = {
  appHead: onAppHead,
  appData: onAppData,
  appComplete: onAppComplete,
  appError: onAppError,
  appUpgrade: openTunnel,
  clientDrain: onClientDrain,
  done: finish,
  refresh: refreshInBackground,
};

/** The front's handler: one ProxyRequest per exchange, into the first stage. */
export function stageHandler(ctx: StageContext): FrontHandler {
  return (exchange) => {
    const request = new ProxyRequest(ctx, exchange, STAGES);
    exchange.listener = request;
    beginAccess(request);
    accept(request);
  };
}

/**
 * The front's own refusals, counted as the door's are: a request refused before it was routed in
 * `unrouted` (not a 408, a request not received in time: those were never counted); one already
 * at a stage (a body over the limit) gets the status for its counts and its access line.
 */
export function countRefusal(ctx: StageContext, status: number, exchange: Exchange | undefined, refusal?: FrontRefusal): void {
  const request = exchange?.listener;
  if (request instanceof ProxyRequest) {
    // Its access line (written when the exchange is done) shows the refusal too.
    request.status = status;
    return;
  }
  if (status !== 408) ctx.tracker.countAnswered(status);
  // No stage saw it: its line has no method or target.
  if (refusal !== undefined) ctx.accessLog?.refusedByParser(refusal.remoteAddress, status, refusal.requestId, refusal.bytes);
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
    websocketIdleTimeoutMs: opts.websocketIdleTimeoutMs,
    tunnels: new Set(),
    statics: { dirs: publicDirsFor(opts.pool.groups), outcome: staticOutcomes(opts.log) },
    bufferUploads: opts.buffering.bufferUploads,
    compression: opts.compression === true,
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
    onRefused: (status, exchange, refusal) => countRefusal(ctx, status, exchange, refusal),
    onConnection: acceptFault(ctx),
  });
  return {
    server: front.server,
    tracker,
    handOver: (deadlineMs) => front.handOver(deadlineMs),
    closeTunnels: () => {
      for (const tunnel of ctx.tunnels) tunnel.close();
    },
    closeIdle: () => front.stop(),
    closeAll: () => front.destroyAll(),
  };
}
