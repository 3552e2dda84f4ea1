// createFrontServer: Ferry's client-facing HTTP/1.1 front over node:net (no node:http on the
// proxy path). It accepts connections (TCP, a unix socket, or a listening handle passed in:
// main.ts listens, as today), runs one loop per connection (connection.ts) that hands each
// request to the handler as an Exchange, counts connections, checks every connection's deadline
// from one sweep timer, and hands the clients over on a restart.

import net from 'node:net';
import type { ClientLimits } from '../../lib/config.js';
import type { Logger } from '../log.js';
import { FrontConnection, type ConnectionContext, type FrontRefusal, type FrontSettings } from './connection.js';
import type { Exchange, FrontHandler } from './exchange.js';

/** The counters `ferry status` shows; RequestTracker has them. */
export interface ConnectionCounts {
  connectionsAccepted: number;
  connectionsActive: number;
}

export interface FrontServerOptions {
  handler: FrontHandler;
  /** What clients may send: --max-header-size, the two client timeouts, --max-body-size. */
  limits: ClientLimits;
  /** The request id a refusal carries (the proxy's generator, so that ids look alike). */
  nextRequestId: () => string;
  counts?: ConnectionCounts;
  log?: Logger;
  /** http, or https behind a TLS front: an authority's default port is dropped by it. */
  scheme?: 'http' | 'https';
  /** A kept-alive connection idle this long is closed (node:http's keepAliveTimeout, as today). */
  keepAliveTimeoutMs?: number;
  /** Fields a request head may have (Apache's LimitRequestFields). */
  maxFields?: number;
  /** How often deadlines are checked; by default a fifth of the shortest timeout, at most 1 s. */
  checkIntervalMs?: number;
  /** While handing over, a connection idle (or taken over) this long is closed (its client reconnects to the new core). */
  handoverIdleCloseMs?: number;
  /** How long a closing connection waits for its client to read the last answer. */
  lingerMs?: number;
  /** Called for every accepted connection (fault injection, tests). */
  onConnection?: (connection: FrontConnection) => void;
  /** Called for every refusal the front answers itself (for the counters of `ferry status`). */
  onRefused?: (status: number, exchange: Exchange | undefined, refusal: FrontRefusal) => void;
}

export interface FrontServer {
  /** Not listening yet: the caller listens (on a port, a unix socket or an inherited fd). */
  readonly server: net.Server;
  readonly connections: ReadonlySet<FrontConnection>;
  /**
   * Hands the clients over to another core on the same listening socket (`ferry restart`), or to
   * other hosts after a drain: stop accepting, answer every further request with
   * `Connection: close`, close connections once idle (or taken over: a tunnel) for a while, and
   * resolve when none is left (at the deadline, the rest are destroyed).
   */
  handOver(deadlineMs: number): Promise<void>;
  /** Stop accepting and close every idle connection now; busy ones close after their answer. */
  stop(): void;
  /** Destroy every connection (the end of a stop). */
  destroyAll(): void;
}

/** node:http's default keepAliveTimeout, which the front has today. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Apache's LimitRequestFields, as the current front counts them. */
export const MAX_REQUEST_FIELDS = 100;
/** nginx's large_client_header_buffers for the request line, within --max-header-size. */
const MAX_REQUEST_LINE_BYTES = 8_192;
const HANDOVER_IDLE_CLOSE_MS = 1_000;
const LINGER_MS = 1_000;
const MAX_CHECK_INTERVAL_MS = 1_000;
const MIN_CHECK_INTERVAL_MS = 10;

function checkInterval(settings: FrontSettings): number {
  // Not the linger: when exactly a closed connection goes matters little.
  const timeouts = [settings.headerTimeoutMs, settings.bodyTimeoutMs, settings.keepAliveTimeoutMs].filter((ms) => ms > 0);
  const shortest = Math.min(MAX_CHECK_INTERVAL_MS * 5, ...timeouts);
  return Math.max(MIN_CHECK_INTERVAL_MS, Math.min(MAX_CHECK_INTERVAL_MS, Math.floor(shortest / 5)));
}

export function createFrontServer(options: FrontServerOptions): FrontServer {
  const { limits } = options;
  const settings: FrontSettings = {
    head: {
      maxHeadBytes: limits.maxHeaderBytes,
      maxStartLineBytes: Math.min(MAX_REQUEST_LINE_BYTES, limits.maxHeaderBytes),
      maxFields: options.maxFields ?? MAX_REQUEST_FIELDS,
      scheme: options.scheme ?? 'http',
    },
    maxBodyBytes: limits.maxBodyBytes,
    headerTimeoutMs: limits.headerTimeoutMs,
    bodyTimeoutMs: limits.bodyTimeoutMs,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS,
    lingerMs: options.lingerMs ?? LINGER_MS,
  };
  const handoverIdleCloseMs = options.handoverIdleCloseMs ?? HANDOVER_IDLE_CLOSE_MS;
  const connections = new Set<FrontConnection>();
  const counts = options.counts;
  let sweep: NodeJS.Timeout | undefined;
  let handingOver = false;

  const context: ConnectionContext = {
    settings,
    handler: options.handler,
    nextRequestId: options.nextRequestId,
    log: options.log,
    get handingOver() {
      return handingOver;
    },
    refused: options.onRefused,
    connectionClosed(connection) {
      connections.delete(connection);
      if (counts) counts.connectionsActive--;
      if (connections.size === 0 && sweep !== undefined) {
        clearInterval(sweep);
        sweep = undefined;
      }
    },
  };

  const intervalMs = options.checkIntervalMs ?? checkInterval(settings);
  const checkDeadlines = (): void => {
    const now = Date.now();
    for (const connection of connections) {
      // A connection taken over (a tunnel) cannot move to the new core either: closed as an idle one.
      if (handingOver && (connection.state === 'idle' || connection.state === 'detached') && now - connection.idleSinceMs >= handoverIdleCloseMs) {
        connection.destroy();
        continue;
      }
      if (connection.deadlineMs !== 0 && now >= connection.deadlineMs) connection.expire(now);
    }
  };

  // allowHalfOpen: a client that shuts its side after its request still gets the answer.
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    if (counts) {
      counts.connectionsAccepted++;
      counts.connectionsActive++;
    }
    const connection = new FrontConnection(socket, context);
    connections.add(connection);
    // The sweep runs only while there are connections: an idle server has no timer.
    if (sweep === undefined) {
      sweep = setInterval(checkDeadlines, intervalMs);
      sweep.unref();
    }
    options.onConnection?.(connection);
  });

  const stopAccepting = (): void => {
    handingOver = true;
    if (server.listening) server.close();
  };

  const handOver = async (deadlineMs: number): Promise<void> => {
    stopAccepting();
    while (connections.size > 0 && Date.now() < deadlineMs) await new Promise((resolve) => setTimeout(resolve, 50));
    for (const connection of connections) connection.destroy();
  };

  const stop = (): void => {
    stopAccepting();
    for (const connection of connections) if (connection.state === 'idle') connection.destroy();
  };

  const destroyAll = (): void => {
    for (const connection of connections) connection.destroy();
  };

  return { server, connections, handOver, stop, destroyAll };
}
