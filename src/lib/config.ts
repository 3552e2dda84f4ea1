// The resolved configuration of one instance: built by `ferry start`, written to the instance
// directory by the watchdog, read by every core it starts. Plain JSON, so it survives the trip.

import type { EnvLayers } from './env-file.js';

/**
 * node: preloaded loader, unix socket. python: WSGI through our loader. asgi: ASGI 3 through our
 * asyncio loader. ruby: Rack through our loader. generic: any program that listens on $PORT.
 */
export type AppType = 'node' | 'python' | 'asgi' | 'ruby' | 'generic';
export const APP_TYPES: readonly AppType[] = ['node', 'python', 'asgi', 'ruby', 'generic'];

/** Where the public HTTP front listens. */
export type ListenAddress =
  | { kind: 'tcp'; address: string; port: number }
  | { kind: 'unix'; path: string };

export interface AppConfig {
  /** Short name used in logs, socket names and `--instance` style selectors. */
  name: string;
  /** Host names (lowercase, no port) routed to this app; empty: the default app. */
  hosts: string[];
  /** Absolute path of the app's directory. */
  root: string;
  appType: AppType;
  /** Absolute path of the file the interpreter runs (node apps). */
  startupFile: string;
  /** Shell command that starts a generic app; it must listen on 127.0.0.1:$PORT. */
  startCommand?: string;
  /** Exported as NODE_ENV (and later RACK_ENV, WSGI_ENV). */
  environment: string;
  /** The app's own variables, merged from envLayers (see env-file.ts). */
  envvars: Record<string, string>;
  /** Where envvars came from, when env files are among them: a restart of the app reads those again. */
  envLayers?: EnvLayers;
  /** Interpreter binary for Node apps. */
  nodeCommand: string;
  /** Interpreter binaries for WSGI and ASGI apps (python), and Rack apps (ruby). */
  pythonCommand?: string;
  rubyCommand?: string;
  minInstances: number;
  startTimeoutMs: number;
  /**
   * --stop-timeout: how long a process of this app that leaves (instance stop, restart, detach,
   * recycling) may take to finish its requests before it is asked to exit (SIGTERM, then SIGKILL).
   */
  stopTimeoutMs: number;
  /** --readiness-path: a new process enters rotation only once this path answers 2xx. */
  readiness?: ReadinessCheck;
  limits: PoolLimits;
  /** Restarts triggered by tmp/restart.txt replace processes one at a time. */
  rollingRestarts: boolean;
  /** --watch: a change to a file under the root (but node_modules, .git, log, tmp) restarts the app, rolling. */
  watch?: boolean;
  /** Route a client back to the process that served it, by a cookie naming that process. */
  stickySessions: boolean;
  stickyCookieName: string;
  /** When the app cannot start, show the error (never the environment) on an HTML page; see FriendlyErrorPages. */
  friendlyErrorPages: FriendlyErrorPages;
  /** The user the app's processes run as, when not Ferry's own (Ferry runs as root). */
  user?: AppUser;
}

/** --readiness-path and --readiness-timeout (default: --start-timeout) of one app. */
export interface ReadinessCheck {
  /** Path (and query) the core GETs on a new process, over its own socket or port. */
  path: string;
  /** How long after it listened a process may take to answer 2xx before its spawn fails. */
  timeoutMs: number;
}

/**
 * Who sees the friendly error page's details (what failed, the app's last output, which often
 * holds secrets the app printed): nobody (a plain page), local clients only (loopback; the
 * default in development), or every client (--friendly-error-pages given explicitly).
 */
export type FriendlyErrorPages = 'off' | 'local' | 'all';

/** An account an app runs as: uid, primary gid (supplementary groups are dropped), and its home. */
export interface AppUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** How an app group scales, queues and recycles its processes. 0 means "no limit" throughout. */
export interface PoolLimits {
  /** Requests one process takes at once; 0 = unlimited (Node). Beyond it, requests queue. */
  concurrency: number;
  /** With unlimited concurrency, a process with this many requests in flight counts as busy. */
  busySessions: number;
  /** Requests that may wait for a process; one more gets 503 with Retry-After. */
  maxRequestQueueSize: number;
  /** A request that waited this long for a process gets 503. */
  maxRequestQueueTimeMs: number;
  /** An idle process beyond the minimum is stopped after this long without a request. */
  poolIdleTimeMs: number;
  /** A process is replaced after this many requests. */
  maxRequests: number;
  /** Each process's own max-requests is maxRequests plus 0 to this many (uniform), so they do not all restart together. */
  maxRequestsJitter: number;
  /** A request running longer gets 504 and its process is replaced. */
  maxRequestTimeMs: number;
  /** A process using more memory (private dirty + swap) is drained and replaced. */
  memoryLimitBytes: number;
  /** Consecutive checks (every 2 s) a process must be over memoryLimitBytes before it is replaced. */
  memoryLimitChecks: number;
}

export const DEFAULT_LIMITS: PoolLimits = {
  concurrency: 0,
  busySessions: 8,
  maxRequestQueueSize: 100,
  maxRequestQueueTimeMs: 0,
  poolIdleTimeMs: 300_000,
  maxRequests: 0,
  maxRequestsJitter: 0,
  maxRequestTimeMs: 0,
  memoryLimitBytes: 0,
  memoryLimitChecks: 3,
};

/** --access-log-format: Apache/nginx "combined" with Ferry's fields appended, or one JSON object per line. */
export const ACCESS_LOG_FORMATS = ['combined', 'json'] as const;
export type AccessLogFormat = (typeof ACCESS_LOG_FORMATS)[number];

/** --access-log: one line per request; `path` is a file, or '-' for the core's stdout. */
export interface AccessLogConfig {
  path: string;
  format: AccessLogFormat;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface FerryConfig {
  listen: ListenAddress;
  /** --compression: text-like answers compressed (br, gzip) in the core for clients that accept it. */
  compression?: boolean;
  /** Most app processes alive at once, across all apps. */
  maxPoolSize: number;
  apps: AppConfig[];
  logLevel: LogLevel;
  /** How long a graceful stop may take before everything is SIGKILLed: --stop-timeout (the longest of the apps'), plus the health drain. */
  shutdownTimeoutMs: number;
  /** Where logs go when not to stdout; reopened on request (log rotation). */
  logFile?: string;
  /** Where the access log goes, if anywhere; reopened with the log file. */
  accessLog?: AccessLogConfig;
  turbocache: TurbocacheConfig;
  /**
   * Direct mode: the app's (Node) processes accept from the listening socket themselves, as in
   * Node's cluster; the core spawns, supervises and restarts them but sees no request.
   */
  direct?: boolean;
  clientLimits: ClientLimits;
  buffering: BufferingConfig;
  /** --websocket-idle-timeout: an upgraded connection (WebSocket) with no byte either way for this long is closed. 0 = never. */
  websocketIdleTimeoutMs: number;
  /** --metrics-address: a loopback TCP address where /metrics is served without a token. */
  metricsListen?: { address: string; port: number };
  /** --health-check-path: the core answers it on the public port; a graceful stop drains first. */
  healthCheck?: HealthCheckConfig;
}

/** Protection of app processes from slow clients: what the core reads ahead or holds for them. */
export interface BufferingConfig {
  /** Read a whole request body before checking out a process even when the app's concurrency is unlimited. */
  bufferUploads: boolean;
  /** Bytes of one response held for a slow client (memory, then disk) before the app is slowed down; 0 = none. */
  responseBufferHighWatermarkBytes: number;
}

/** nginx's proxy_read_timeout: a WebSocket app that pings every 30 s or so keeps its tunnels. */
export const WEBSOCKET_IDLE_TIMEOUT_DEFAULT_S = 60;

export const BUFFERING_DEFAULTS = {
  responseBufferHighWatermark: '128m',
} as const;

export interface HealthCheckConfig {
  /** Path (no query) answered by the core, before the turbocache and the apps. */
  path: string;
  /** On a graceful stop: how long the health check says 503 while requests are still served. */
  drainTimeMs: number;
}

export const HEALTH_DRAIN_DEFAULT_S = 5;
/** Longer drains belong in the balancer's configuration, not in a stop that seems to hang. */
export const HEALTH_DRAIN_MAX_S = 300;

/** What a client may send to the public HTTP front: protection from bad, slow and greedy clients. */
export interface ClientLimits {
  /** Request line and headers together; more gets 431. */
  maxHeaderBytes: number;
  /** Time to send the request line and headers (slowloris); then 408 and the connection closes. 0 = none. */
  headerTimeoutMs: number;
  /** Time to send the whole request, body included; then 408 and the connection closes. 0 = none. */
  bodyTimeoutMs: number;
  /** Largest request body; more gets 413 (the app never sees it when Content-Length says so). 0 = none. */
  maxBodyBytes: number;
}

export const CLIENT_LIMIT_DEFAULTS = {
  maxHeaderBytes: 16 * 1024,
  headerTimeoutS: 30,
  bodyTimeoutS: 60,
  maxBodySize: '1g',
} as const;

/** The core's HTTP response cache. */
export interface TurbocacheConfig {
  enabled: boolean;
  /** Entries are split by this cookie's value (anonymous visitors share one). */
  varyByCookie?: string;
  maxBytes: number;
  maxEntryBytes: number;
  /** --turbocache-serve-stale-on-error: a failing app's page served up to this stale (ms); absent: only by stale-if-error. */
  staleOnErrorMs?: number;
  /** Say hit/miss/bypass and why in X-Ferry-Cache on every answer. */
  debugHeader: boolean;
}

export const TURBOCACHE_DEFAULTS = {
  maxBytes: 64 * 1024 * 1024,
  maxEntryBytes: 1024 * 1024,
} as const;

export const DEFAULTS = {
  port: 3000,
  address: '127.0.0.1',
  maxPoolSize: 6,
  minInstances: 1,
  environment: 'development',
  startTimeoutMs: 90_000,
  shutdownTimeoutMs: 30_000,
  /** --stop-timeout, in seconds. */
  stopTimeoutS: 30,
  logLevel: 'info' as LogLevel,
} as const;

export function describeListenAddress(listen: ListenAddress): string {
  if (listen.kind === 'unix') return `unix:${listen.path}`;
  const host = listen.address.includes(':') ? `[${listen.address}]` : listen.address;
  return `http://${host}:${listen.port}/`;
}

/** The uids the instance's apps run as, other than Ferry's own (who may own its log file). */
export function appUserIds(config: Pick<FerryConfig, 'apps'>): number[] {
  return config.apps.flatMap((app) => (app.user ? [app.user.uid] : []));
}
