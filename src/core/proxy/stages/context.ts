// What every stage of every request shares: the pool, the cache, the tracker, the settings.

import type { Logger } from '../../log.js';
import type { AppGroup } from '../../pool/app-group.js';
import type { Pool } from '../../pool/pool.js';
import type { CacheFront } from '../../turbocache/cache-front.js';
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
}
