// What every stage of every request shares: the pool, the cache, the tracker, the settings.

import type { AccessLog } from '../../access-log/access-log.js';
import type { FaultInjector } from '../../faults.js';
import type { ExchangeHost } from '../../front/exchange.js';
import type { Logger } from '../../log.js';
import type { AppGroup } from '../../pool/app-group.js';
import type { Pool } from '../../pool/pool.js';
import type { CacheFront } from '../../turbocache/cache-front.js';
import type { BufferDir } from '../buffer-dir.js';
import type { ResponseBufferOptions } from '../response-buffer.js';
import type { HealthState } from '../health-check.js';
import type { RequestTracker } from '../request-tracker.js';
import type { Tunnel } from '../socket-tunnel.js';
import type { PublicDirs, StaticOutcome } from '../static-files.js';

export interface StageContext {
  pool: Pool;
  log: Logger;
  tracker: RequestTracker;
  /** Behind a trusted front (unix socket): its X-Forwarded-* and X-Request-Id count. */
  trustForwarded: boolean;
  cache: CacheFront | undefined;
  health: { path: string; state: HealthState } | undefined;
  /** --max-body-size (the front enforces it; the door refuses an announced one early). */
  maxBodyBytes: number;
  /** --websocket-idle-timeout: for the app's answer to an upgrade, then for the tunnel (0 = never). */
  websocketIdleTimeoutMs: number;
  /** The open tunnels, so that a stop can close them: added on 101, removed on close. */
  tunnels: Set<Tunnel>;
  /** Each app's public/ (static-files.ts), and the log lines of refused and failed files. */
  statics: { dirs: PublicDirs<AppGroup>; outcome: (app: string, requestId: string) => StaticOutcome } | undefined;
  /** --compression: text-like answers compressed for clients that accept br or gzip. */
  compression?: boolean;
  /** --buffer-uploads, and where buffered bodies and answers spill to disk. */
  bufferUploads?: boolean;
  bufferDir?: BufferDir | undefined;
  /** Real-time response buffering for slow clients; without it, plain backpressure. */
  responseBuffer?: ResponseBufferOptions | undefined;
  /** --access-log: one line per answer. */
  accessLog?: AccessLog | undefined;
  /** Fault injection (FERRY_FAULTS): the upstream-connect point, and the accept point's connections. */
  faults?: FaultInjector | undefined;
  /** Connections the accept fault fell on: their first request is answered 503 (only with faults). */
  faultedConnections?: WeakSet<ExchangeHost> | undefined;
}
