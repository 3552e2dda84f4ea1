// ferry start's work: turn flags into a validated config, bind the socket, launch the watchdog,
// wait for the instance to be ready (or for the reason it is not), then stay or detach.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { appDirProblem, detectApp, type DetectionResult } from '../lib/app-detection.js';
import { appUserIds, type AppConfig, type AppType, type BufferingConfig, type ClientLimits, type FerryConfig, type FriendlyErrorPages, type ListenAddress, type LogLevel, type PoolLimits, type TurbocacheConfig } from '../lib/config.js';
import type { InstanceSummary, LaunchMessage, LogFormat, WatchdogToCli } from '../lib/ipc-messages.js';
import { openOwnFile, removeIfUnused, UnsafeFileError, type OwnFile } from '../lib/own-files.js';
import { ferryProcessCommand } from '../lib/paths.js';
import { CliError, cliErrorFromPayload } from './errors.js';
import { checkRegistryReachable, resolveAppUser } from './app-user.js';
import { bindListenSocket } from './listen-socket.js';
import { takeActivatedSocket } from './socket-activation.js';
import { SYSTEMD_ENV } from '../lib/sd-notify.js';
import { buildHealthCheck, parseMetricsAddress } from './observability-options.js';
import { buildAccessLog, openAccessLogFile } from './access-log-options.js';
import { buildReadiness, checkReadinessTimeoutUsed } from './readiness-options.js';
import { parseByteSize } from '../lib/units.js';
import { loadEnvFile } from './env-options.js';
import { mergeEnvLayers, type EnvLayers } from '../lib/env-file.js';

/** Where buildConfig sends what the operator should know but that does not stop the start. */
export type Warn = (message: string) => void;

const warnOnStderr: Warn = (message) => process.stderr.write(`Warning: ${message}\n`);

export interface StartOptions {
  dir: string;
  /** From a config file: the app's name and the hosts routed to it. */
  name?: string;
  hosts?: string[];
  port: number;
  address: string;
  socket?: string;
  appType?: AppType;
  startupFile?: string;
  /** Any program that listens on $PORT (makes the app generic). */
  appStartCommand?: string;
  minInstances: number;
  maxPoolSize: number;
  /** Limits; concurrency undefined = the app type's default (1 for WSGI/Rack, unlimited otherwise). */
  limits: Omit<PoolLimits, 'concurrency'> & { concurrency?: number };
  rollingRestarts: boolean;
  /** --watch: file changes under the app's root restart it (rolling). */
  watch?: boolean;
  stickySessions: boolean;
  stickyCookieName: string;
  /** Given: for every client (or none); undefined: for local clients in development only. */
  friendlyErrorPages?: boolean;
  /** --envvar on the command line, as NAME=VALUE. */
  envvars: string[];
  /** The lower layers of the app's environment (see env-options.ts): ferry.json's and --env-file. */
  envFiles: string[];
  environmentEnv: Record<string, string>;
  appEnv: Record<string, string>;
  environment: string;
  startTimeoutS: number;
  /** --stop-timeout: seconds a leaving process gets to finish its requests. */
  stopTimeoutS: number;
  /** --readiness-path: a new process enters rotation once it answers 2xx; --readiness-timeout (default --start-timeout). */
  readinessPath?: string;
  readinessTimeoutS?: number;
  nodejs: string;
  python?: string;
  ruby?: string;
  /** --user: the app's processes run as this user (root only); default: the owner of the startup file. */
  user?: string;
  logLevel: LogLevel;
  registryDir: string;
  daemonize: boolean;
  pidFile?: string;
  logFile?: string;
  /** --access-log FILE or '-', and --access-log-format as given (combined when not). */
  accessLog?: string;
  accessLogFormat?: string;
  turbocache: {
    disabled: boolean;
    varyByCookie?: string;
    /** Sizes as given (bytes, or with a k/m/g suffix). */
    maxBytes: string;
    maxEntryBytes: string;
    /** --turbocache-serve-stale-on-error, in seconds (0: off). */
    serveStaleOnErrorS?: number;
    /** Undefined: on in development only. */
    debugHeader?: boolean;
  };
  /** App processes accept from the listening socket themselves; the core only supervises. */
  direct?: boolean;
  /** --metrics-address as given (HOST:PORT, loopback only). */
  metricsAddress?: string;
  /** --health-check-path and --health-drain-time. */
  healthCheckPath?: string;
  healthDrainTimeS: number;
  /** What clients may send to the public front. */
  clientLimits: {
    maxHeaderSize: number;
    headerTimeoutS: number;
    bodyTimeoutS: number;
    /** As given (bytes, or with a k/m/g suffix); 0 = no limit. */
    maxBodySize: string;
  };
  /** --websocket-idle-timeout: seconds an upgraded connection may be idle (0 = no limit). */
  websocketIdleTimeoutS: number;
  /** Slow-client protection: upload buffering and the response buffer's size (as given). */
  buffering: {
    bufferUploads: boolean;
    responseBufferHighWatermark: string;
  };
  /** --compression. */
  compression?: boolean;
}

/** A cookie name is an HTTP token (RFC 6265 §4.1.1). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A day: longer is a typo, and systemd's TimeoutStopSec would hold a stop that long too. */
const STOP_TIMEOUT_MAX_S = 86_400;

/** --stop-timeout (or "stop-timeout" in ferry.json): whole seconds, 1 to a day; returns it. */
function checkStopTimeout(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > STOP_TIMEOUT_MAX_S) {
    throw usage(`--stop-timeout must be a whole number of seconds from 1 to ${STOP_TIMEOUT_MAX_S} (got ${seconds})`, 'For example: --stop-timeout 10, or "stop-timeout": 10 for one app in ferry.json.');
  }
  return seconds;
}

function usage(message: string, suggestion: string): CliError {
  return new CliError('FERRY_ERR_CONFIG_INVALID', message, [suggestion]);
}

/**
 * --envvar values: NAME=VALUE, or NAME alone for the value ferry start itself has in its
 * environment (`from`), which keeps a secret out of every process list (the systemd unit does so).
 */
export function parseEnvvars(pairs: readonly string[], from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    // The pair itself is not echoed: its value may be a secret.
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw usage(`an --envvar is not NAME=VALUE (the name '${name.slice(0, 40)}' is not a variable name)`, 'Write it as --envvar NAME=VALUE, once per variable, or --envvar NAME to pass on NAME from this environment.');
    if (eq !== -1) env[name] = pair.slice(eq + 1);
    else {
      const value = from[name];
      if (value === undefined) throw usage(`--envvar ${name} passes on ${name} from the environment of ferry start, where it is not set`, `Set ${name} in the environment of ferry start, or write --envvar ${name}=VALUE.`);
      env[name] = value;
    }
  }
  return env;
}

/** WSGI and Rack processes (our loaders) take one request at a time; ASGI (an event loop), Node and generic apps any number. */
export function defaultConcurrency(appType: AppType): number {
  return appType === 'python' || appType === 'ruby' ? 1 : 0;
}

/** The flag behind each pool limit, for error messages. */
const LIMIT_FLAGS: Record<keyof PoolLimits, string> = {
  concurrency: '--concurrency',
  busySessions: '--busy-sessions',
  maxRequestQueueSize: '--max-request-queue-size',
  maxRequestQueueTimeMs: '--max-request-queue-time',
  poolIdleTimeMs: '--pool-idle-time',
  maxRequests: '--max-requests',
  maxRequestsJitter: '--max-requests-jitter',
  maxRequestTimeMs: '--max-request-time',
  memoryLimitBytes: '--memory-limit',
  memoryLimitChecks: '--memory-limit-checks',
};

/**
 * Validates the options and resolves them into the config every process of the instance reads.
 * `opts` holds the instance's settings; `apps` the options of each app (default: just `opts`).
 */
export function buildConfig(opts: StartOptions, apps: StartOptions[] = [opts], warn: Warn = warnOnStderr): FerryConfig {
  if (opts.maxPoolSize < 1) throw usage(`--max-pool-size must be at least 1 (got ${opts.maxPoolSize})`, 'Use --max-pool-size 1 or more.');
  if (!opts.socket && (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535)) throw usage(`--port ${opts.port} is not a TCP port`, 'Use a port from 1 to 65535.');
  const listen: ListenAddress = opts.socket ? { kind: 'unix', path: path.resolve(opts.socket) } : { kind: 'tcp', address: opts.address, port: opts.port };
  checkReadinessTimeoutUsed(apps);
  const built = apps.map((app) => buildApp(app, opts.maxPoolSize, warn));
  const names = new Set<string>();
  for (const app of built) {
    if (names.has(app.name)) throw usage(`two apps are named '${app.name}'`, 'Give each app its own "name" in the config file.');
    names.add(app.name);
  }
  if (opts.direct) checkDirectMode(built);
  if (opts.direct && opts.compression === true) throw usage('--direct and --compression do not go together: no core sees the answers', 'Drop --direct to have the core proxy every request (all features).');
  const healthCheck = buildHealthCheck(opts.healthCheckPath, opts.healthDrainTimeS);
  if (healthCheck && opts.direct) throw usage('--health-check-path needs the core in the request path; --direct has none', 'Drop --direct, or check the app itself.');
  const metricsListen = opts.metricsAddress === undefined ? undefined : parseMetricsAddress(opts.metricsAddress);
  return {
    listen,
    maxPoolSize: opts.maxPoolSize,
    logLevel: opts.logLevel,
    // The longest stop timeout (the instance's or an app's own): the watchdog's SIGKILL must not
    // cut an app short. The drain comes before the usual time to finish requests, not out of it.
    shutdownTimeoutMs: Math.max(checkStopTimeout(opts.stopTimeoutS) * 1000, ...built.map((a) => a.stopTimeoutMs)) + (healthCheck?.drainTimeMs ?? 0),
    ...(metricsListen ? { metricsListen } : {}),
    ...(healthCheck ? { healthCheck } : {}),
    apps: built,
    turbocache: buildTurbocache(opts),
    clientLimits: buildClientLimits(opts),
    buffering: buildBuffering(opts),
    ...(opts.compression === true ? { compression: true } : {}),
    websocketIdleTimeoutMs: wholeSeconds('--websocket-idle-timeout', opts.websocketIdleTimeoutS) * 1000,
    ...(opts.direct ? { direct: true } : {}),
  };
}

/**
 * Direct mode hands the listening socket to the app's processes, so there is no core in the
 * request path to route by host or to queue: one Node app, and nothing that needs the core.
 */
function checkDirectMode(apps: readonly AppConfig[]): void {
  const suggestion = 'Drop --direct to have the core proxy every request (all features).';
  if (apps.length !== 1) throw usage(`--direct serves one app; this configuration has ${apps.length}`, suggestion);
  const app = apps[0] as AppConfig;
  if (app.appType !== 'node') throw usage(`--direct works with Node apps only (this app is ${app.appType})`, suggestion);
  if (app.stickySessions) throw usage('--direct and --sticky-sessions do not go together: no core sees the requests', suggestion);
  if (app.limits.maxRequestTimeMs > 0) throw usage('--direct and --max-request-time do not go together: no core times the requests', suggestion);
  // A process stopped in direct mode closes its idle kept-alive connections, and a request a
  // client sends on one at that moment fails: a restart on every save would show those failures.
  if (app.watch) throw usage('--direct and --watch do not go together: a restart in direct mode can fail a request sent on a kept-alive connection while its process stops (through the core, none fails)', suggestion);
  // The processes accept from the public socket themselves: nothing could keep one that is not ready out of rotation.
  if (app.readiness) throw usage('--direct and --readiness-path do not go together: the app processes take connections themselves, so no core can hold them back until a process is ready', suggestion);
}

/** A time limit in whole seconds, 0 for none; returned as given. */
function wholeSeconds(flag: string, seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 0) throw usage(`${flag} must be a whole number of seconds, 0 or more (got ${seconds})`, `For example: ${flag} 30 (0 = no limit)`);
  return seconds;
}

/** Node's HTTP parser needs room for a request line and a few headers; less would refuse every browser. */
const MIN_HEADER_BYTES = 1024;

function buildClientLimits(opts: StartOptions): ClientLimits {
  const c = opts.clientLimits;
  if (!Number.isInteger(c.maxHeaderSize) || c.maxHeaderSize < MIN_HEADER_BYTES) {
    throw usage(`--max-header-size must be a whole number of bytes, at least ${MIN_HEADER_BYTES} (got ${c.maxHeaderSize})`, 'For example: --max-header-size 16384');
  }
  wholeSeconds('--client-header-timeout', c.headerTimeoutS);
  wholeSeconds('--client-body-timeout', c.bodyTimeoutS);
  // The whole request includes its headers (and Node refuses the opposite order).
  if (c.bodyTimeoutS > 0 && c.headerTimeoutS > c.bodyTimeoutS) {
    throw usage(
      `--client-header-timeout (${c.headerTimeoutS}s) is longer than --client-body-timeout (${c.bodyTimeoutS}s), which covers the headers too`,
      'Lower --client-header-timeout, raise --client-body-timeout, or set --client-body-timeout 0 (no limit).',
    );
  }
  const maxBodyBytes = parseByteSize(c.maxBodySize);
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0) {
    throw usage(`--max-body-size '${c.maxBodySize}' is not a size`, 'Give bytes, or a number with k, m or g: for example --max-body-size 100m (0 = no limit)');
  }
  return { maxHeaderBytes: c.maxHeaderSize, headerTimeoutMs: c.headerTimeoutS * 1000, bodyTimeoutMs: c.bodyTimeoutS * 1000, maxBodyBytes };
}

function buildBuffering(opts: StartOptions): BufferingConfig {
  const { bufferUploads, responseBufferHighWatermark } = opts.buffering;
  const bytes = parseByteSize(responseBufferHighWatermark);
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw usage(`--response-buffer-high-watermark '${responseBufferHighWatermark}' is not a size`, 'Give bytes, or a number with k, m or g: for example --response-buffer-high-watermark 128m (0 = no buffering)');
  }
  return { bufferUploads, responseBufferHighWatermarkBytes: bytes };
}

function buildTurbocache(opts: StartOptions): TurbocacheConfig {
  const t = opts.turbocache;
  const size = (flag: string, text: string): number => {
    const bytes = parseByteSize(text);
    if (!Number.isSafeInteger(bytes) || bytes < 1) throw usage(`${flag} '${text}' is not a size`, `Give bytes, or a number with k, m or g: for example ${flag} 64m`);
    return bytes;
  };
  const maxBytes = size('--turbocache-max-bytes', t.maxBytes);
  const maxEntryBytes = size('--turbocache-max-entry-bytes', t.maxEntryBytes);
  if (maxEntryBytes > maxBytes) throw usage(`--turbocache-max-entry-bytes (${t.maxEntryBytes}) is larger than --turbocache-max-bytes (${t.maxBytes})`, 'Lower the entry size or raise the cache size.');
  if (t.varyByCookie !== undefined && !COOKIE_NAME.test(t.varyByCookie)) {
    throw usage(`--vary-turbocache-by-cookie '${t.varyByCookie}' is not a valid cookie name`, 'Use letters, digits and - _ . only.');
  }
  return {
    enabled: !t.disabled,
    ...(t.varyByCookie !== undefined ? { varyByCookie: t.varyByCookie } : {}),
    maxBytes,
    maxEntryBytes,
    ...(t.serveStaleOnErrorS !== undefined && t.serveStaleOnErrorS > 0 ? { staleOnErrorMs: t.serveStaleOnErrorS * 1000 } : {}),
    debugHeader: t.debugHeader ?? opts.environment === 'development',
  };
}

/** A generic app needs only its directory, where its command runs. */
function genericApp(root: string): DetectionResult {
  const problem = appDirProblem(root);
  if (problem) return { ok: false, reason: problem, suggestion: 'Pass the directory the command runs in: ferry start DIR --app-start-command "CMD"' };
  return { ok: true, app: { appType: 'generic', startupFile: root } };
}

function buildApp(opts: StartOptions, maxPoolSize: number, warn: Warn): AppConfig {
  const root = path.resolve(opts.dir);
  const generic = opts.appStartCommand !== undefined || opts.appType === 'generic';
  if (generic && !opts.appStartCommand?.trim()) {
    throw usage('a generic app needs --app-start-command "CMD"', 'For example: --app-start-command "python3 -m http.server $PORT"');
  }
  const detected: DetectionResult = generic
    ? genericApp(root)
    : detectApp(root, { appType: opts.appType, startupFile: opts.startupFile });
  if (!detected.ok) throw new CliError('FERRY_ERR_APP_NOT_FOUND', detected.reason, [detected.suggestion]);
  if (opts.minInstances < 1) throw usage(`--min-instances must be at least 1 (got ${opts.minInstances})`, 'Use --min-instances 1 or more.');
  if (opts.minInstances > maxPoolSize) {
    throw usage(`--min-instances (${opts.minInstances}) is larger than --max-pool-size (${maxPoolSize})`, 'Raise --max-pool-size or lower --min-instances.');
  }
  for (const [key, value] of Object.entries(opts.limits)) {
    if (value === undefined) continue;
    const flag = LIMIT_FLAGS[key as keyof PoolLimits];
    if (!Number.isInteger(value) || value < 0) throw usage(`${flag} must be a whole number, 0 or more (got ${value})`, 'See ferry start --help.');
  }
  if (opts.limits.busySessions < 1) throw usage('--busy-sessions must be at least 1', 'For example: --busy-sessions 8');
  if (opts.limits.maxRequestsJitter > 0 && opts.limits.maxRequests === 0) {
    throw usage(`--max-requests-jitter ${opts.limits.maxRequestsJitter} spreads --max-requests, which is not set (0 = never)`, 'Give --max-requests too (for example --max-requests 1000 --max-requests-jitter 50), or drop --max-requests-jitter.');
  }
  if (opts.limits.memoryLimitChecks < 1) throw usage('--memory-limit-checks must be at least 1', 'For example: --memory-limit-checks 3 (1 = replace at the first check over --memory-limit)');
  if (!COOKIE_NAME.test(opts.stickyCookieName)) {
    throw usage(`--sticky-sessions-cookie-name '${opts.stickyCookieName}' is not a valid cookie name`, 'Use letters, digits and - _ . only.');
  }
  checkStopTimeout(opts.stopTimeoutS);
  if (!(opts.startTimeoutS > 0)) throw usage(`--start-timeout must be a positive number of seconds (got ${opts.startTimeoutS})`, 'For example: --start-timeout 30');
  const startTimeoutMs = Math.round(opts.startTimeoutS * 1000);
  const readiness = buildReadiness(opts.readinessPath, opts.readinessTimeoutS, startTimeoutMs);
  const user = resolveAppUser(opts.user, detected.app.startupFile, root);
  const envLayers: EnvLayers = { files: opts.envFiles, environment: opts.environmentEnv, app: opts.appEnv, cli: parseEnvvars(opts.envvars) };
  return {
    name: opts.name ?? (path.basename(root).replace(/[^\w.-]/g, '_') || 'app'),
    hosts: opts.hosts ?? [],
    root,
    appType: detected.app.appType,
    startupFile: detected.app.startupFile,
    ...(generic ? { startCommand: opts.appStartCommand } : {}),
    environment: opts.environment,
    envvars: mergeEnvLayers(envLayers, (file) => loadEnvFile(file, warn)),
    // With env files, a restart reads them again (and needs the other layers to merge them).
    ...(envLayers.files.length > 0 ? { envLayers } : {}),
    nodeCommand: opts.nodejs,
    minInstances: opts.minInstances,
    startTimeoutMs,
    stopTimeoutMs: opts.stopTimeoutS * 1000,
    ...(readiness ? { readiness } : {}),
    limits: { ...opts.limits, concurrency: opts.limits.concurrency ?? defaultConcurrency(detected.app.appType) },
    ...(detected.app.appType === 'python' || detected.app.appType === 'asgi' ? { pythonCommand: opts.python ?? 'python3' } : {}),
    ...(detected.app.appType === 'ruby' ? { rubyCommand: opts.ruby ?? 'ruby' } : {}),
    rollingRestarts: opts.rollingRestarts,
    ...(opts.watch ? { watch: true } : {}),
    stickySessions: opts.stickySessions,
    stickyCookieName: opts.stickyCookieName,
    friendlyErrorPages: friendlyErrorPagesFor(opts.friendlyErrorPages, opts.environment),
    ...(user ? { user } : {}),
  };
}

/**
 * --friendly-error-pages given (flag or ferry.json) shows the details to every client, as the
 * operator asked; unset, development shows them to local clients only; otherwise none.
 */
export function friendlyErrorPagesFor(given: boolean | undefined, environment: string): FriendlyErrorPages {
  if (given !== undefined) return given ? 'all' : 'off';
  return environment === 'development' ? 'local' : 'off';
}

/** Where a daemonized instance logs when --log-file is not given: like Passenger, beside the app. */
export function defaultLogFile(config: FerryConfig): string {
  const app = config.apps[0];
  const root = app ? app.root : process.cwd();
  const suffix = config.listen.kind === 'tcp' ? String(config.listen.port) : 'socket';
  const logDir = fs.existsSync(path.join(root, 'log')) ? path.join(root, 'log') : root;
  return path.join(logDir, `ferry.${suffix}.log`);
}

function withoutSystemdEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of SYSTEMD_ENV) delete copy[name];
  return copy;
}

export interface LaunchedInstance {
  instance: InstanceSummary;
  /** Where the instance logs (undefined: the stdout of this ferry start), and its access log if any. */
  logFile?: string;
  accessLog?: string;
  watchdog: ChildProcess;
  /** Resolves with the watchdog's exit code once it is gone (foreground). */
  exited: Promise<number>;
  /** Asks the watchdog to stop (again: forcefully). */
  stop(): void;
  /** Lets the instance run on after this process exits (daemon mode). */
  detach(): Promise<void>;
}

/**
 * Opens the log file as root may (openOwnFile: no link, FIFO or foreign file planted beside the
 * app), before anything starts, so a refusal leaves nothing running.
 */
function openLogFile(file: string, config: FerryConfig): OwnFile {
  try {
    return openOwnFile(file, 'log', appUserIds(config));
  } catch (err) {
    if (err instanceof UnsafeFileError) throw cliErrorFromPayload(err.toPayload());
    throw new CliError('FERRY_ERR_FILE_UNWRITABLE', `cannot open log file ${file}: ${(err as Error).message}`, ['Pass a writable path with --log-file.']);
  }
}

export async function launchInstance(opts: StartOptions, apps: StartOptions[] = [opts], warn: Warn = warnOnStderr): Promise<LaunchedInstance> {
  const config = buildConfig(opts, apps, warn);
  for (const app of config.apps) checkRegistryReachable(path.resolve(opts.registryDir), app.user);
  const logFile = opts.logFile ? path.resolve(opts.logFile) : opts.daemonize ? defaultLogFile(config) : undefined;
  const accessLog = buildAccessLog(opts, logFile);
  const log = logFile ? openLogFile(logFile, config) : undefined;
  if (logFile) config.logFile = logFile;
  let access: OwnFile | undefined;
  try {
    access = accessLog ? openAccessLogFile(accessLog, config) : undefined;
  } catch (err) {
    if (logFile && log) removeIfUnused(logFile, log);
    throw err;
  }
  // The core opens it by path (and again at every reopen); this open only checked and created it.
  if (access) fs.closeSync(access.fd);
  if (accessLog) config.accessLog = accessLog;
  let started: Awaited<ReturnType<typeof startWatchdog>>;
  try {
    started = await startWatchdog(opts, config, log?.fd);
  } catch (err) {
    // A start that failed before anything was logged leaves no empty log file of ours behind.
    if (logFile && log) removeIfUnused(logFile, log);
    if (accessLog && access) removeIfUnused(accessLog.path, access);
    throw err;
  }
  const { watchdog, exited, instance } = started;
  return {
    instance,
    ...(logFile ? { logFile } : {}),
    ...(accessLog ? { accessLog: accessLog.path } : {}),
    watchdog,
    exited,
    stop: () => {
      if (watchdog.exitCode === null && watchdog.signalCode === null) watchdog.kill('SIGTERM');
    },
    detach: () =>
      new Promise<void>((resolve) => {
        watchdog.send({ type: 'detach' }, () => {
          watchdog.disconnect();
          watchdog.unref();
          resolve();
        });
      }),
  };
}

/**
 * Binds the listening socket(s), starts the watchdog with them and with the log file (`logFd`,
 * closed here), and waits until the instance serves or the watchdog gives up.
 */
async function startWatchdog(opts: StartOptions, config: FerryConfig, logFd: number | undefined): Promise<{ watchdog: ChildProcess; exited: Promise<number>; instance: InstanceSummary }> {
  let outFd = logFd;
  const closeOutFd = (): void => {
    if (outFd !== undefined) fs.closeSync(outFd);
    outFd = undefined;
  };
  const logFormat: LogFormat = !config.logFile && process.stdout.isTTY ? 'pretty' : 'json';
  const pidFile = opts.pidFile ? path.resolve(opts.pidFile) : undefined;

  let watchdog: ChildProcess;
  let unixSocketInode: number | undefined;
  try {
    // Under systemd socket activation the socket is systemd's; otherwise we bind it.
    const activated = await takeActivatedSocket();
    if (activated) config.listen = activated.listen;
    const bound = activated?.bound ?? (await bindListenSocket(config.listen, '--port', path.resolve(opts.registryDir)));
    unixSocketInode = bound.inode;
    let metrics: Awaited<ReturnType<typeof bindListenSocket>> | undefined;
    try {
      metrics = config.metricsListen ? await bindListenSocket({ kind: 'tcp', ...config.metricsListen }, '--metrics-address') : undefined;
    } catch (err) {
      bound.release();
      throw err;
    }
    const { command, args } = ferryProcessCommand('watchdog');
    try {
      watchdog = spawn(command, args, {
        // The metrics socket goes to METRICS_FD (5), after the IPC channel.
        stdio: ['ignore', outFd ?? 'inherit', outFd ?? 'inherit', bound.fd, 'ipc', ...(metrics ? [metrics.fd] : [])],
        // A session of its own: Ctrl-C in this terminal reaches ferry start, which stops it in order.
        detached: true,
        // systemd's variables are for this process (the service's main pid) alone.
        env: withoutSystemdEnv(process.env),
      });
    } finally {
      // Same tick as the spawn: our event loop never gets to accept a connection on it.
      bound.release();
      metrics?.release();
    }
  } finally {
    closeOutFd();
  }
  const launch: LaunchMessage = { type: 'launch', config, registryDir: path.resolve(opts.registryDir), logFormat, pidFile, unixSocketInode };
  watchdog.send(launch);

  const exited = new Promise<number>((resolve) => {
    watchdog.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });

  const instance = await new Promise<InstanceSummary>((resolve, reject) => {
    let failure: CliError | undefined;
    watchdog.on('message', (message: WatchdogToCli) => {
      if (message.type === 'ready') resolve(message.instance);
      // Report it once the watchdog has cleaned up, so nothing is left running when we do.
      // In the foreground without --log-file the log is on the terminal, just above the error.
      else if (message.type === 'failed') failure = cliErrorFromPayload(config.logFile ? { ...message.error, suggestions: [...(message.error.suggestions ?? []), `The whole output is in the log: ${config.logFile}`] } : message.error);
    });
    void exited.then((code) =>
      reject(failure ?? new CliError('FERRY_ERR_CORE_START_FAILED', `the watchdog exited during start-up (code ${code})`, config.logFile ? [`See the log: ${config.logFile}`] : [])),
    );
  });
  return { watchdog, exited, instance };
}
