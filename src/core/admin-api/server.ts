// createAdminServer: the admin API, HTTP+JSON on a unix socket inside the 0700 instance
// directory (never on the public port). Every call carries a bearer token: the read-only one
// for reads, the full one for changes. Handlers return data or throw; one place maps errors.

import crypto from 'node:crypto';
import http from 'node:http';
import {
  MAX_ADMIN_BODY_BYTES,
  ROUTES,
  type AppConfigSummary,
  type ConfigResponse,
  type DetachProcessResponse,
  type ErrorBody,
  type PatchConfigRequest,
  type PingResponse,
  type PoolResponse,
  type ReopenLogsResponse,
  type RequestsResponse,
  type RestartAppRequest,
  type RestartAppResponse,
  type RouteName,
  type ServerResponse,
  type TurbocacheStats,
} from '../../lib/admin-api-contract.js';
import { LOG_LEVELS, type AppConfig, type FerryConfig, type LogLevel } from '../../lib/config.js';
import { FERRY_VERSION } from '../../lib/paths.js';
import { CoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Pool } from '../pool/pool.js';
import type { RequestTracker } from '../proxy/request-tracker.js';
import type { Turbocache } from '../turbocache/turbocache.js';
import { METRICS_CONTENT_TYPE } from '../metrics/exposition.js';
import { matchRoute } from './router.js';

export interface AdminTokens {
  readOnly: string;
  full: string;
}

export interface AdminContext {
  pool: Pool;
  tracker: RequestTracker;
  /** Undefined when the turbocache is disabled. */
  cache?: Turbocache;
  config: FerryConfig;
  log: Logger;
  instanceName: string;
  addresses: string[];
  startedAtMs: number;
  tokens: AdminTokens;
  /** Reopens the log file (and has the watchdog do the same); throws FERRY_ERR_LOG_REOPEN_FAILED. */
  reopenLogs(): void;
  /** The log level changed: the watchdog follows, so a core it starts later keeps the level. */
  logLevelChanged(level: LogLevel): void;
  /** The Prometheus exposition of the instance. */
  renderMetrics(): Promise<string>;
}

/** A handler's answer that is not JSON (the metrics). */
class TextAnswer {
  constructor(
    readonly contentType: string,
    readonly text: string,
  ) {}
}

type Handler = (ctx: AdminContext, params: Record<string, string>, body: unknown) => unknown;

/** A pid is written in decimal digits only: Number() would also take '1e3', '0x10' or ' 12'. */
function parsePid(raw: string | undefined): number {
  const pid = raw !== undefined && /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new CoreError('FERRY_ERR_ADMIN_BAD_REQUEST', `'${String(raw)}' is not a pid`);
  return pid;
}

/** A request body is a JSON object, or absent (which counts as {}). */
function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CoreError('FERRY_ERR_ADMIN_BAD_REQUEST', 'request body must be a JSON object');
  return body as Record<string, unknown>;
}

function disabledTurbocache(config: FerryConfig): TurbocacheStats {
  const { turbocache } = config;
  const zero = { lookups: 0, hits: 0, misses: 0, stores: 0, invalidations: 0, evictions: 0, collapsed: 0, revalidations: 0, revalidated: 0, variants: 0, staleWhileRevalidate: 0, staleOnError: 0, entries: 0, bytes: 0 };
  return { state: 'disabled', varyByCookie: turbocache.varyByCookie ?? null, ...zero, maxBytes: turbocache.maxBytes, maxEntryBytes: turbocache.maxEntryBytes, bypassed: {}, notStored: {} };
}

/** What the live view shows of an app's settings: who runs it, from which file, with what. */
function summarizeApp(a: AppConfig): AppConfigSummary {
  const interpreter =
    a.appType === 'generic' ? (a.startCommand ?? '') : a.appType === 'python' ? (a.pythonCommand ?? 'python3') : a.appType === 'ruby' ? (a.rubyCommand ?? 'ruby') : a.nodeCommand;
  return {
    name: a.name,
    root: a.root,
    minInstances: a.minInstances,
    environment: a.environment,
    startTimeoutMs: a.startTimeoutMs,
    appType: a.appType,
    startupFile: a.startupFile,
    interpreter,
    user: a.user?.name ?? null,
  };
}

const HANDLERS: Record<RouteName, Handler> = {
  ping: (ctx): PingResponse => ({ status: 'ok', version: FERRY_VERSION, instance: ctx.instanceName, corePid: process.pid, uptimeMs: Date.now() - ctx.startedAtMs }),
  pool: (ctx): PoolResponse => ctx.pool.inspect(),
  server: (ctx): ServerResponse => ({
    version: FERRY_VERSION,
    instance: ctx.instanceName,
    corePid: process.pid,
    startedAt: new Date(ctx.startedAtMs).toISOString(),
    uptimeMs: Date.now() - ctx.startedAtMs,
    addresses: ctx.addresses,
    connections: { active: ctx.tracker.connectionsActive, accepted: ctx.tracker.connectionsAccepted, tunnels: ctx.tracker.tunnelsOpen },
    requests: { inFlight: ctx.tracker.inFlight, total: ctx.tracker.requestsTotal, perSecond: ctx.tracker.perSecond(), failed: { ...ctx.tracker.failed } },
    turbocache: ctx.cache ? ctx.cache.inspect() : disabledTurbocache(ctx.config),
    compression: { enabled: ctx.config.compression === true, ...ctx.tracker.compression },
  }),
  requests: (ctx): RequestsResponse => ({ requests: ctx.tracker.inspect() }),
  getConfig: (ctx): ConfigResponse => ({
    logLevel: ctx.config.logLevel,
    maxPoolSize: ctx.config.maxPoolSize,
    logFile: ctx.config.logFile ?? null,
    apps: ctx.config.apps.map(summarizeApp),
  }),
  patchConfig: (ctx, _params, body): ConfigResponse => {
    const change = objectBody(body) as PatchConfigRequest;
    const unknown = Object.keys(change).filter((k) => k !== 'logLevel');
    if (unknown.length > 0) throw new CoreError('FERRY_ERR_ADMIN_BAD_REQUEST', `cannot change ${unknown.join(', ')} at run time; only logLevel`);
    if (change.logLevel !== undefined) {
      if (!LOG_LEVELS.includes(change.logLevel)) throw new CoreError('FERRY_ERR_ADMIN_BAD_REQUEST', `logLevel must be one of ${LOG_LEVELS.join(', ')}`);
      ctx.config.logLevel = change.logLevel as LogLevel;
      ctx.log.setLevel(change.logLevel);
      ctx.logLevelChanged(change.logLevel);
      ctx.log.info('log level changed', { logLevel: change.logLevel });
    }
    return HANDLERS.getConfig(ctx, {}, undefined) as ConfigResponse;
  },
  restartApp: (ctx, params, body): RestartAppResponse => {
    const request = objectBody(body) as RestartAppRequest;
    if (request.rolling !== undefined && typeof request.rolling !== 'boolean') throw new CoreError('FERRY_ERR_ADMIN_BAD_REQUEST', 'rolling must be true or false');
    return ctx.pool.findGroup(params.name).restart(request.rolling === true);
  },
  detachProcess: (ctx, params): DetachProcessResponse => {
    const pid = parsePid(params.pid);
    const group = ctx.pool.detach(pid);
    return { pid, app: group.name, detached: true };
  },
  reopenLogs: (ctx): ReopenLogsResponse => {
    ctx.reopenLogs();
    const access = ctx.config.accessLog?.path;
    return { status: 'ok', logFile: ctx.config.logFile ?? null, ...(access !== undefined && access !== '-' ? { accessLog: access } : {}) };
  },
  metrics: async (ctx): Promise<TextAnswer> => new TextAnswer(METRICS_CONTENT_TYPE, await ctx.renderMetrics()),
};

/** Compares in constant time, so response timing does not leak how much of a token was right. */
function tokenMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

function bearerToken(req: http.IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match ? match[1] : undefined;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, extra: http.OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...extra });
  res.end(text);
}

function sendError(res: http.ServerResponse, status: number, code: ErrorBody['error']['code'], message: string, details?: Record<string, unknown>, extra?: http.OutgoingHttpHeaders): void {
  const body: ErrorBody = { error: { code, message } };
  if (details && Object.keys(details).length > 0) body.error.details = details;
  sendJson(res, status, body, extra);
}

/**
 * Reads the body, up to MAX_ADMIN_BODY_BYTES. A larger one is refused with 413 as soon as it
 * shows (by its Content-Length or by what arrived), and the rest is read and dropped rather than
 * left unread: closing a socket with unread data resets it, and the client would never see the
 * 413. The request timeout bounds how long a client can keep sending.
 */
function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = (): CoreError =>
      new CoreError('FERRY_ERR_ADMIN_BAD_REQUEST', `request body larger than ${MAX_ADMIN_BODY_BYTES} bytes`, { details: { httpStatus: 413 } });
    if (Number(req.headers['content-length'] ?? 0) > MAX_ADMIN_BODY_BYTES) {
      req.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > MAX_ADMIN_BODY_BYTES) {
        refused = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function handle(ctx: AdminContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const match = matchRoute(req.method ?? 'GET', url.pathname);
  if (match.kind === 'not-found') return sendError(res, 404, 'FERRY_ERR_ADMIN_NOT_FOUND', `no admin route ${url.pathname}`);
  if (match.kind === 'wrong-method') return sendError(res, 405, 'FERRY_ERR_ADMIN_BAD_REQUEST', `${req.method} is not allowed here`, undefined, { Allow: match.allowed.join(', ') });
  if (match.kind === 'bad-param') return sendError(res, 400, 'FERRY_ERR_ADMIN_BAD_REQUEST', `${match.param} '${match.raw}' is not valid percent-encoding`);

  const token = bearerToken(req);
  const access = ROUTES[match.name].access;
  const isFull = token !== undefined && tokenMatches(token, ctx.tokens.full);
  const isReadOnly = token !== undefined && !isFull && tokenMatches(token, ctx.tokens.readOnly);
  if (!isFull && !isReadOnly) {
    ctx.log.warn('admin API call refused: no valid token', { route: match.name });
    return sendError(res, 401, 'FERRY_ERR_ADMIN_UNAUTHORIZED', token ? 'the admin token is not valid for this instance' : 'an admin token is required', undefined, {
      'WWW-Authenticate': 'Bearer realm="ferry"',
    });
  }
  if (access === 'full' && !isFull) return sendError(res, 403, 'FERRY_ERR_ADMIN_FORBIDDEN', 'the read-only token cannot change anything; use the full admin token');

  let body: unknown;
  const raw = await readBody(req);
  if (raw.length > 0) {
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw new CoreError('FERRY_ERR_ADMIN_BAD_REQUEST', `request body is not JSON: ${(err as Error).message}`);
    }
  }
  if (ROUTES[match.name].method !== 'GET') ctx.log.info('admin API call', { route: match.name, params: match.params });
  const answer = await HANDLERS[match.name](ctx, match.params, body);
  if (answer instanceof TextAnswer) {
    res.writeHead(200, { 'Content-Type': answer.contentType, 'Content-Length': Buffer.byteLength(answer.text), 'Cache-Control': 'no-store' });
    res.end(answer.text);
    return;
  }
  sendJson(res, 200, answer);
}

export function createAdminServer(ctx: AdminContext): http.Server {
  return http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    handle(ctx, req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof CoreError) {
        const status = typeof err.details.httpStatus === 'number' ? err.details.httpStatus : err.httpStatus;
        const { httpStatus: _omit, ...details } = err.details;
        return sendError(res, status, err.code, err.message, details);
      }
      ctx.log.error('admin API handler failed', { err });
      sendError(res, 500, 'FERRY_ERR_INTERNAL', 'internal error; see the core log');
    });
  });
}
