// Turns `ferry start` flag values (from the command line or a config file, by flag name) into
// StartOptions: one mapping for both sources.

import type { AppType, LogLevel } from '../lib/config.js';
import { defaultRegistryDir } from '../lib/instance-registry.js';
import fs from 'node:fs';
import path from 'node:path';
import { readConfigFile, type ConfigFile, type FileApp, type FlagValues } from './config-file.js';
import { parseEnvvars, type StartOptions } from './launch-instance.js';

/** StartOptions' environment layers, all but --envvar (which optionsFromFlags reads). */
type FileEnvLayers = Pick<StartOptions, 'envFiles' | 'environmentEnv' | 'appEnv'>;

/**
 * The env layers of one app from ferry.json and the command line (precedence in env-options.ts):
 * the top level's, then the app's; the environment chosen by `environment`; --env-file last.
 */
function envLayers(file: ConfigFile, app: FileApp | undefined, environment: string, cli: FlagValues): FileEnvLayers {
  const list = (v: unknown): string[] => (v as string[] | undefined) ?? [];
  const top = file.environments[environment] ?? {};
  const own = app?.environments[environment] ?? {};
  return {
    envFiles: [...list(file.options['env-file']), ...list(app?.options['env-file']), ...list(top['env-file']), ...list(own['env-file']), ...list(cli['env-file']).map((f) => path.resolve(f))],
    environmentEnv: parseEnvvars([...list(top.envvar), ...list(own.envvar)]),
    appEnv: parseEnvvars([...list(file.options.envvar), ...list(app?.options.envvar)]),
  };
}

/** Names of the flags typed on the command line (not defaults, not from the environment). */
export function explicitFlags(raw: readonly { type: string; flag?: string }[]): Set<string> {
  return new Set(raw.flatMap((token) => (token.type === 'flag' && token.flag ? [token.flag] : [])));
}

/**
 * The options of the instance and of each app, from the flags and the config file (--config, or
 * ferry.json in DIR): flags typed on the command line win over the file, which wins over defaults.
 */
export function resolveStartOptions(dir: string, values: FlagValues, explicit: ReadonlySet<string>): { instanceOptions: StartOptions; apps?: StartOptions[] } {
  const configFlag = values.config as string | undefined;
  const configPath = configFlag ?? (fs.existsSync(path.join(dir, 'ferry.json')) ? path.join(dir, 'ferry.json') : undefined);
  if (!configPath) return { instanceOptions: optionsFromFlags(values, dir) };
  const file = readConfigFile(configPath);
  const cli = Object.fromEntries([...explicit].map((name) => [name, values[name]]));
  // --envvar and --env-file add to the file's layers instead of replacing them (envLayers).
  const cliEnv: FlagValues = { envvar: values.envvar, 'env-file': values['env-file'] };
  const merged: FlagValues = { ...values, ...file.options, ...cli, ...cliEnv };
  const fileDir = path.dirname(file.path);
  const apps =
    file.apps.length > 0
      ? file.apps.map((app) => {
          const f: FlagValues = { ...merged, ...app.options, ...cli, ...cliEnv };
          return { ...optionsFromFlags(f, app.root, envLayers(file, app, f.environment as string, cliEnv)), name: app.name, hosts: app.hosts };
        })
      : undefined;
  return { instanceOptions: optionsFromFlags(merged, apps?.[0]?.dir ?? (configFlag ? fileDir : dir), envLayers(file, undefined, merged.environment as string, cliEnv)), apps };
}

/** `env`: the env layers from a config file; without one, --env-file alone. */
export function optionsFromFlags(f: FlagValues, dir: string, env?: FileEnvLayers): StartOptions {
  const num = (name: string): number => f[name] as number;
  const str = (name: string): string | undefined => f[name] as string | undefined;
  return {
    dir,
    port: num('port'),
    address: str('address') as string,
    socket: str('socket'),
    appType: str('app-type') as AppType | undefined,
    appStartCommand: str('app-start-command'),
    startupFile: str('startup-file'),
    minInstances: num('min-instances'),
    maxPoolSize: num('max-pool-size'),
    rollingRestarts: f['rolling-restarts'] === true,
    watch: f.watch === true,
    stickySessions: f['sticky-sessions'] === true,
    stickyCookieName: str('sticky-sessions-cookie-name') as string,
    friendlyErrorPages: f['friendly-error-pages'] as boolean | undefined,
    limits: {
      concurrency: f.concurrency as number | undefined,
      busySessions: num('busy-sessions'),
      maxRequestQueueSize: num('max-request-queue-size'),
      maxRequestQueueTimeMs: num('max-request-queue-time') * 1000,
      poolIdleTimeMs: num('pool-idle-time') * 1000,
      maxRequests: num('max-requests'),
      maxRequestsJitter: num('max-requests-jitter'),
      maxRequestTimeMs: num('max-request-time') * 1000,
      memoryLimitBytes: num('memory-limit') * 1024 * 1024,
      memoryLimitChecks: num('memory-limit-checks'),
    },
    envvars: (f.envvar as string[] | undefined) ?? [],
    ...(env ?? { envFiles: ((f['env-file'] as string[] | undefined) ?? []).map((file) => path.resolve(file)), environmentEnv: {}, appEnv: {} }),
    environment: str('environment') as string,
    startTimeoutS: num('start-timeout'),
    stopTimeoutS: num('stop-timeout'),
    readinessPath: str('readiness-path'),
    readinessTimeoutS: f['readiness-timeout'] as number | undefined,
    nodejs: str('nodejs') as string,
    python: str('python'),
    ruby: str('ruby'),
    // An empty FERRY_USER means "not set".
    user: str('user') || undefined,
    logLevel: str('log-level') as LogLevel,
    registryDir: str('instance-registry-dir') ?? defaultRegistryDir(),
    daemonize: f.daemonize === true,
    pidFile: str('pid-file'),
    logFile: str('log-file'),
    accessLog: str('access-log'),
    accessLogFormat: str('access-log-format'),
    direct: f.direct === true,
    turbocache: {
      disabled: f['disable-turbocaching'] === true,
      varyByCookie: str('vary-turbocache-by-cookie'),
      maxBytes: String(f['turbocache-max-bytes']),
      maxEntryBytes: String(f['turbocache-max-entry-bytes']),
      serveStaleOnErrorS: (f['turbocache-serve-stale-on-error'] as number | undefined) ?? 0,
      debugHeader: f['turbocache-debug-header'] as boolean | undefined,
    },
    metricsAddress: str('metrics-address'),
    healthCheckPath: str('health-check-path'),
    healthDrainTimeS: num('health-drain-time'),
    clientLimits: {
      maxHeaderSize: num('max-header-size'),
      headerTimeoutS: num('client-header-timeout'),
      bodyTimeoutS: num('client-body-timeout'),
      maxBodySize: String(f['max-body-size']),
    },
    websocketIdleTimeoutS: num('websocket-idle-timeout'),
    compression: f.compression === true,
    buffering: {
      bufferUploads: f['buffer-uploads'] === true,
      responseBufferHighWatermark: String(f['response-buffer-high-watermark']),
    },
  };
}
