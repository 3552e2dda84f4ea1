// The admin API contract, shared by the core (server) and the CLI (client): routes, who may call
// them, and the shape of every request and response. Keys are camelCase; shapes only grow.

import type { ErrorCode } from './error-codes.js';
import type { LogLevel } from './config.js';

export const ADMIN_API_VERSION = 1;

/** read: the read-only token or the full one; full: the full token only. */
export type Access = 'read' | 'full';

export interface RouteSpec {
  method: 'GET' | 'POST' | 'PATCH';
  /** Path pattern; `:name` segments are parameters. */
  path: string;
  access: Access;
}

export const ROUTES = {
  ping: { method: 'GET', path: '/v1/ping', access: 'read' },
  pool: { method: 'GET', path: '/v1/pool', access: 'read' },
  server: { method: 'GET', path: '/v1/server', access: 'read' },
  requests: { method: 'GET', path: '/v1/requests', access: 'read' },
  getConfig: { method: 'GET', path: '/v1/config', access: 'read' },
  patchConfig: { method: 'PATCH', path: '/v1/config', access: 'full' },
  restartApp: { method: 'POST', path: '/v1/apps/:name/restart', access: 'full' },
  detachProcess: { method: 'POST', path: '/v1/processes/:pid/detach', access: 'full' },
  reopenLogs: { method: 'POST', path: '/v1/logs/reopen', access: 'full' },
  /** Prometheus text format (text/plain; version=0.0.4), not JSON. */
  metrics: { method: 'GET', path: '/v1/metrics', access: 'read' },
} as const satisfies Record<string, RouteSpec>;

export type RouteName = keyof typeof ROUTES;

/** Fills `:param` segments of a route path. */
export function routePath(name: RouteName, params: Record<string, string | number> = {}): string {
  return ROUTES[name].path.replace(/:(\w+)/g, (_, key: string) => encodeURIComponent(String(params[key])));
}

/** Largest request body the admin API reads. */
export const MAX_ADMIN_BODY_BYTES = 64 * 1024;

/** File names in the instance directory. */
export const ADMIN_FILES = {
  socket: 'admin.sock',
  readOnlyToken: 'read_only_token',
  fullToken: 'full_admin_token',
} as const;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

export interface PingResponse {
  status: 'ok';
  version: string;
  instance: string;
  corePid: number;
  uptimeMs: number;
}

/** Worker state, the same strings in JSON and in human output. */
/**
 * starting: it listens, but its --readiness-path has not answered 2xx yet (not in rotation);
 * ready: takes requests; oob-work: out of rotation doing out-of-band work; draining; stopping; dead.
 */
export type ProcessState = 'starting' | 'ready' | 'oob-work' | 'draining' | 'stopping' | 'dead';

export interface ProcessSnapshot {
  pid: number;
  state: ProcessState;
  /** Requests in flight on this process now. */
  sessions: number;
  /** Requests it has finished. */
  processed: number;
  /** Which restart of its app group it belongs to (0 = since start). */
  generation: number;
  spawnedAt: string;
  uptimeMs: number;
  lastUsedAt: string;
  spawnDurationMs: number;
  /** With --max-requests: the requests after which this process is replaced (its own, with --max-requests-jitter). */
  maxRequests?: number;
  /** While starting: what its readiness check got last (a status such as "503", or an error such as "ECONNREFUSED"). */
  notReady?: string;
  /** Lifetime average CPU use, as ps shows it; null when /proc could not be read. */
  cpuPercent: number | null;
  /** CPU time used so far (user + system, ms): the live view divides two readings' difference by the time between them. */
  cpuTimeMs: number | null;
  /** Answers with a 5xx status to requests this process had (its own, and Ferry's 502/504 for it); set by the group. */
  errors5xx?: number;
  rssBytes: number | null;
  /** Private dirty + swap: what the process alone costs (Passenger's "Memory"). */
  privateDirtyBytes: number | null;
  swapBytes: number | null;
}

export type GroupState =
  /** Serving with its processes. */
  | 'running'
  /** A restart is replacing its processes. */
  | 'restarting'
  /** Its last spawn failed; retrying after a backoff. */
  | 'backoff'
  /** Shutting down. */
  | 'stopping';

/** What Ferry kept of a process before it recycled it (see docs/guides/self-healing.md). */
export interface EvidenceSnapshot {
  pid: number;
  reason: 'memory-limit';
  at: string;
  /** Absolute paths, in the instance's diagnostics directory: a .heapsnapshot, a .log of its last lines. */
  files: string[];
  /** Why no heap snapshot was taken (not a Node app, too big). */
  heapSnapshotSkipped?: string;
  /** What could not be written, and why. */
  failed?: string[];
}

export interface GroupSnapshot {
  name: string;
  root: string;
  state: GroupState;
  generation: number;
  minInstances: number;
  /** Requests waiting for a process of this app. */
  waiting: number;
  /** Processes being spawned now. */
  spawning: number;
  processes: ProcessSnapshot[];
  /** Restarts of the whole group (restart-app, tmp/restart.txt, --watch) since the core started. */
  restarts: number;
  /** Processes that exited without being asked to (crashes), since the core started. */
  crashes: number;
  lastSpawnError?: { code: string; message: string; at: string };
  /** Present while a restart runs, and after one whose new process failed (`failed`: why; a blocking one clears it once a retry starts one). */
  restart?: { rolling: boolean; generation: number; startedAt: string; failed?: string };
  /** The evidence kept at this app's last recycle over --memory-limit, since the core started. */
  lastEvidence?: EvidenceSnapshot;
}

export interface PoolResponse {
  maxPoolSize: number;
  processCount: number;
  /** Requests waiting in all app groups together. */
  waiting: number;
  groups: GroupSnapshot[];
}

export interface ServerResponse {
  version: string;
  instance: string;
  corePid: number;
  startedAt: string;
  uptimeMs: number;
  addresses: string[];
  /** `tunnels`: upgraded connections (WebSocket) open now, among the active ones. */
  connections: { active: number; accepted: number; tunnels: number };
  requests: { inFlight: number; total: number; perSecond: number; failed: { '502': number; '503': number; '504': number } };
  turbocache: TurbocacheStats;
  /** --compression: answers compressed whole since the core started, and their bytes before and after. */
  compression: { enabled: boolean; responses: number; bytesIn: number; bytesOut: number };
}

/** The turbocache's counters since the core started (reasons: see the README's turbocache table). */
export interface TurbocacheStats {
  state: 'enabled' | 'disabled';
  varyByCookie: string | null;
  lookups: number;
  hits: number;
  misses: number;
  stores: number;
  invalidations: number;
  evictions: number;
  /** Misses that waited for another request's fill of the same entry instead of going to the app. */
  collapsed: number;
  /** Conditional requests sent to the app for stale entries (RFC 9111 §4.3), and how many it answered 304. */
  revalidations: number;
  revalidated: number;
  /** Entries stored as a variant of their URL (Vary). */
  variants: number;
  /** Stale entries served: at once while one refresh runs (stale-while-revalidate), and in place of a failing app's error (stale-if-error). */
  staleWhileRevalidate: number;
  staleOnError: number;
  entries: number;
  bytes: number;
  maxBytes: number;
  maxEntryBytes: number;
  /** Requests not looked up, by reason. */
  bypassed: Record<string, number>;
  /** Answers not stored, by reason. */
  notStored: Record<string, number>;
}

export type RequestState =
  /** Waiting for a process. */
  | 'queued'
  /** Sent to a process; waiting for its answer. */
  | 'forwarding'
  /** The answer is streaming to the client. */
  | 'responding'
  /** The client is still sending its body, which Ferry reads whole before a process is involved (upload buffering). */
  | 'receiving'
  /** The app has answered and its process is free; a slow client is still taking the buffered rest. */
  | 'draining'
  /** A WebSocket or other upgraded connection. */
  | 'tunnel';

export interface RequestSnapshot {
  id: string;
  method: string;
  path: string;
  app: string;
  pid: number | null;
  state: RequestState;
  ageMs: number;
  /** Bytes of this request's body and response Ferry holds in memory for a slow client. */
  bufferedMemoryBytes: number;
  /** The same, spilled to files in the instance directory. */
  bufferedDiskBytes: number;
}

export interface RequestsResponse {
  requests: RequestSnapshot[];
}

export interface ConfigResponse {
  logLevel: LogLevel;
  maxPoolSize: number;
  /** Where the instance logs; null when it logs to the terminal of `ferry start`. */
  logFile: string | null;
  apps: AppConfigSummary[];
}

export interface AppConfigSummary {
  name: string;
  root: string;
  minInstances: number;
  environment: string;
  startTimeoutMs: number;
  appType: string;
  /** The file that starts it (for a generic app: its directory). */
  startupFile: string;
  /** What runs it: the interpreter (node, python3, ruby), or the shell command of a generic app. */
  interpreter: string;
  /** The user its processes run as; null: the user Ferry runs as. */
  user: string | null;
}

export interface PatchConfigRequest {
  logLevel?: LogLevel;
}

export interface RestartAppRequest {
  /** Replace processes one at a time, each only after its replacement serves. */
  rolling?: boolean;
}

export interface RestartAppResponse {
  app: string;
  rolling: boolean;
  /** The generation the new processes belong to; restart is done when every process has it. */
  generation: number;
  /** Processes that will be replaced. */
  replacing: number[];
}

export interface DetachProcessResponse {
  pid: number;
  app: string;
  detached: true;
}

export interface ReopenLogsResponse {
  status: 'ok';
  /** The file reopened (by the core, then the watchdog); null when the instance logs to stdout. */
  logFile: string | null;
  /** The access log file reopened by the core, when there is one (not '-'). */
  accessLog?: string;
}
