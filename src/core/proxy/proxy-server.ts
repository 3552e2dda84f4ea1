// The shape main.ts drives, whatever builds the proxy (stages/front-proxy.ts): what it is given,
// and what it hands back (a server not listening yet, its request tracker, and the stop steps).

import type net from 'node:net';
import type { BufferingConfig, ClientLimits } from '../../lib/config.js';
import type { AccessLog } from '../access-log/access-log.js';
import type { FaultInjector } from '../faults.js';
import type { Logger } from '../log.js';
import type { Pool } from '../pool/pool.js';
import type { CacheFront } from '../turbocache/cache-front.js';
import type { BufferDir } from './buffer-dir.js';
import type { HealthState } from './health-check.js';
import type { RequestTracker } from './request-tracker.js';

export interface ProxyServerOptions {
  pool: Pool;
  log: Logger;
  /** Behind a trusted front server (unix socket): keep its X-Forwarded-* headers. */
  trustForwarded: boolean;
  /** The turbocache, unless it is disabled. */
  cache?: CacheFront;
  /** What clients may send (header size, time to send, body size). */
  limits: ClientLimits;
  /** Fault injection (accept, upstream-connect), when FERRY_FAULTS is set. */
  faults?: FaultInjector;
  /** Upload and response buffering for slow clients, and where they spill to disk. */
  buffering: BufferingConfig;
  bufferDir: BufferDir;
  /** --health-check-path: answered here, before the turbocache and the apps. */
  health?: { path: string; state: HealthState };
  /** --websocket-idle-timeout: a tunnel with no byte either way for this long is closed (0 = never). */
  websocketIdleTimeoutMs: number;
  /** --access-log: one line per answered request. */
  accessLog?: AccessLog;
  /** --compression. */
  compression?: boolean;
}

export interface ProxyServer {
  /** Not listening yet: main.ts listens. */
  server: net.Server;
  tracker: RequestTracker;
  /**
   * Hands the clients over to another core on the same listening socket (`ferry restart`), or to
   * other hosts after a drain (a stop behind a load balancer): stop accepting, answer every further
   * request with `Connection: close`, close connections once they have been idle for a while, and
   * resolve when none is left (or at the deadline).
   */
  handOver(deadlineMs: number): Promise<void>;
  /** Closes every open tunnel (WebSocket), for a stop: they would otherwise hold it to its deadline. */
  closeTunnels(): void;
  /** A stop: idle kept-alive connections close now, busy ones after their answer. */
  closeIdle(): void;
  /** The end of a stop: every connection is closed. */
  closeAll(): void;
}
