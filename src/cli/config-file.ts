// ferry.json: the options of `ferry start` in a file, and several apps in one instance, each
// with its root, host names and own options. Validated with errors that name the JSON path.

import fs from 'node:fs';
import path from 'node:path';
import { parseByteSize } from '../lib/units.js';
import { CliError } from './errors.js';
import { closestName } from '../lib/did-you-mean.js';

type Kind = 'integer' | 'string' | 'boolean' | 'string-list' | 'envvars' | 'paths' | 'size' | 'size-or-zero';

/** Options a file may set, by their `ferry start` flag names; `apps` entries may set APP_OPTIONS. */
export const FILE_OPTION_KINDS: Record<string, Kind> = {
  port: 'integer',
  address: 'string',
  socket: 'string',
  'max-pool-size': 'integer',
  'log-level': 'string',
  'log-file': 'string',
  'access-log': 'string',
  'access-log-format': 'string',
  'pid-file': 'string',
  'instance-registry-dir': 'string',
  'min-instances': 'integer',
  'app-type': 'string',
  'app-start-command': 'string',
  'startup-file': 'string',
  environment: 'string',
  envvar: 'envvars',
  'env-file': 'paths',
  'start-timeout': 'integer',
  'stop-timeout': 'integer',
  'readiness-path': 'string',
  'readiness-timeout': 'integer',
  nodejs: 'string',
  python: 'string',
  ruby: 'string',
  concurrency: 'integer',
  'busy-sessions': 'integer',
  'max-request-queue-size': 'integer',
  'max-request-queue-time': 'integer',
  'pool-idle-time': 'integer',
  'max-requests': 'integer',
  'max-requests-jitter': 'integer',
  'max-request-time': 'integer',
  'memory-limit': 'integer',
  'memory-limit-checks': 'integer',
  'rolling-restarts': 'boolean',
  watch: 'boolean',
  'sticky-sessions': 'boolean',
  'sticky-sessions-cookie-name': 'string',
  'friendly-error-pages': 'boolean',
  daemonize: 'boolean',
  'disable-turbocaching': 'boolean',
  direct: 'boolean',
  'vary-turbocache-by-cookie': 'string',
  'turbocache-max-bytes': 'size',
  'turbocache-max-entry-bytes': 'size',
  'turbocache-serve-stale-on-error': 'integer',
  'turbocache-debug-header': 'boolean',
  'max-header-size': 'integer',
  'client-header-timeout': 'integer',
  'client-body-timeout': 'integer',
  'max-body-size': 'size-or-zero',
  'websocket-idle-timeout': 'integer',
  'buffer-uploads': 'boolean',
  'response-buffer-high-watermark': 'size-or-zero',
  compression: 'boolean',
  user: 'string',
  'metrics-address': 'string',
  'health-check-path': 'string',
  'health-drain-time': 'integer',
};

/** Options that belong to the instance, not to one app: allowed at the top level only. */
const INSTANCE_ONLY = new Set([
  'port',
  'address',
  'socket',
  'max-pool-size',
  'log-level',
  'log-file',
  'access-log',
  'access-log-format',
  'pid-file',
  'instance-registry-dir',
  'daemonize',
  // Direct mode: the app's processes own the listening socket.
  'direct',
  // One turbocache serves every app of the instance.
  'disable-turbocaching',
  'vary-turbocache-by-cookie',
  'turbocache-max-bytes',
  'turbocache-max-entry-bytes',
  'turbocache-serve-stale-on-error',
  'turbocache-debug-header',
  // One HTTP front serves every app, with one set of limits on what clients send.
  'max-header-size',
  'client-header-timeout',
  'client-body-timeout',
  'max-body-size',
  'websocket-idle-timeout',
  // The same front buffers and compresses for every app.
  'buffer-uploads',
  'response-buffer-high-watermark',
  'compression',
  // One metrics endpoint and one health check per instance.
  'metrics-address',
  'health-check-path',
  'health-drain-time',
]);

/** Other names a file may use for an option: the issue's (and other tools') spelling. */
const ALIASES: Record<string, string> = { env: 'envvar', envFile: 'env-file' };

export type FlagValues = Record<string, unknown>;

/** "environments": {NAME: {"env": …, "env-file": …}}, the part chosen by --environment. */
export interface FileEnvironment {
  envvar?: string[];
  'env-file'?: string[];
}

export interface FileApp {
  /** Absolute root (relative roots are taken from the file's directory). */
  root: string;
  name?: string;
  /** Host names routed to this app; none = the default app. */
  hosts: string[];
  options: FlagValues;
  environments: Record<string, FileEnvironment>;
}

export interface ConfigFile {
  path: string;
  options: FlagValues;
  environments: Record<string, FileEnvironment>;
  apps: FileApp[];
}

function invalid(file: string, jsonPath: string, problem: string): CliError {
  return new CliError('FERRY_ERR_CONFIG_INVALID', `${file}: ${jsonPath} ${problem}`, ['Fix the file; every key is a ferry start flag name (see ferry start --help).']);
}

function closest(key: string): string | undefined {
  return closestName(key, [...Object.keys(FILE_OPTION_KINDS), ...Object.keys(ALIASES), 'apps', 'root', 'hosts', 'name', 'environments']);
}

function checkValue(file: string, jsonPath: string, kind: Kind, value: unknown, baseDir: string): unknown {
  switch (kind) {
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(file, jsonPath, `must be a whole number (got ${JSON.stringify(value)})`);
      return value;
    case 'string':
      if (typeof value !== 'string') throw invalid(file, jsonPath, `must be a string (got ${JSON.stringify(value)})`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw invalid(file, jsonPath, `must be true or false (got ${JSON.stringify(value)})`);
      return value;
    case 'size':
      // Bytes as a number, or a string with a k/m/g suffix, as the flag takes them.
      if ((typeof value === 'number' && Number.isSafeInteger(value) && value > 0) || (typeof value === 'string' && parseByteSize(value) > 0)) return String(value);
      throw invalid(file, jsonPath, `must be a size: bytes, or a string like "64m" (got ${JSON.stringify(value)})`);
    case 'size-or-zero':
      // A limit: as 'size', and 0 for none.
      if ((typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) || (typeof value === 'string' && parseByteSize(value) >= 0)) return String(value);
      throw invalid(file, jsonPath, `must be a size: bytes, or a string like "100m", or 0 for no limit (got ${JSON.stringify(value)})`);
    case 'string-list':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw invalid(file, jsonPath, 'must be a list of strings');
      return value;
    case 'envvars':
      // An object {"NAME": "value"} or a list of "NAME=value", as the flag takes them.
      if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        return Object.entries(value as Record<string, unknown>).map(([name, v]) => {
          if (typeof v !== 'string') throw invalid(file, `${jsonPath}.${name}`, `must be a string (got ${JSON.stringify(v)})`);
          return `${name}=${v}`;
        });
      }
      throw invalid(file, jsonPath, 'must be an object of NAME: "value" or a list of "NAME=value"');
    case 'paths':
      // One path or a list, relative to the file's directory.
      if (typeof value === 'string' && value !== '') return [path.resolve(baseDir, value)];
      if (Array.isArray(value) && value.every((v) => typeof v === 'string' && v !== '')) return value.map((v: string) => path.resolve(baseDir, v));
      throw invalid(file, jsonPath, 'must be a path or a list of paths');
  }
}

function readOptions(file: string, jsonPath: string, raw: Record<string, unknown>, allowInstanceOptions: boolean, skip: Set<string>, baseDir: string): FlagValues {
  const out: FlagValues = {};
  for (const [given, value] of Object.entries(raw)) {
    if (skip.has(given)) continue;
    const key = ALIASES[given] ?? given;
    if (key !== given && raw[key] !== undefined) throw invalid(file, `${jsonPath}${jsonPath ? '.' : ''}${given}`, `and "${key}" are the same option; keep one`);
    const kind = FILE_OPTION_KINDS[key];
    const at = `${jsonPath}${jsonPath ? '.' : ''}${key}`;
    if (!kind) {
      const guess = closest(key);
      throw invalid(file, at, `is not an option${guess ? ` (did you mean "${guess}"?)` : ''}`);
    }
    if (!allowInstanceOptions && INSTANCE_ONLY.has(key)) throw invalid(file, at, 'belongs to the whole instance; set it at the top level');
    out[key] = checkValue(file, at, kind, value, baseDir);
  }
  return out;
}

/** "environments" of the top level or an app: each NAME may hold "env" and "env-file" only. */
function readEnvironments(file: string, jsonPath: string, raw: unknown, baseDir: string): Record<string, FileEnvironment> {
  if (raw === undefined) return {};
  const at = `${jsonPath}${jsonPath ? '.' : ''}environments`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(file, at, 'must be an object: {"production": {"env": {...}, "env-file": "..."}}');
  const out: Record<string, FileEnvironment> = {};
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw invalid(file, `${at}.${name}`, 'must be an object with "env" and/or "env-file"');
    const entryAt = `${at}.${name}`;
    for (const key of Object.keys(entry)) {
      if (!['env', 'envvar', 'env-file', 'envFile'].includes(key)) throw invalid(file, `${entryAt}.${key}`, 'is not allowed here: an environment sets "env" and "env-file" only');
    }
    out[name] = readOptions(file, entryAt, entry as Record<string, unknown>, false, new Set(), baseDir) as FileEnvironment;
  }
  return out;
}

export function readConfigFile(file: string): ConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError('FERRY_ERR_CONFIG_INVALID', `cannot read config file ${file}: ${(err as Error).message}`, ['Check the --config path.']);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CliError('FERRY_ERR_CONFIG_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, ['Fix the JSON syntax.']);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(file, '(top level)', 'must be a JSON object');
  const top = raw as Record<string, unknown>;
  const baseDir = path.dirname(path.resolve(file));
  const options = readOptions(file, '', top, true, new Set(['apps', 'environments']), baseDir);
  const environments = readEnvironments(file, '', top.environments, baseDir);
  const apps: FileApp[] = [];
  if (top.apps !== undefined) {
    if (!Array.isArray(top.apps) || top.apps.length === 0) throw invalid(file, 'apps', 'must be a non-empty list of apps');
    const names = new Set<string>();
    top.apps.forEach((entry: unknown, i: number) => {
      const at = `apps[${i}]`;
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw invalid(file, at, 'must be an object with at least "root"');
      const app = entry as Record<string, unknown>;
      if (typeof app.root !== 'string' || app.root === '') throw invalid(file, `${at}.root`, 'must be the path of the app directory');
      const hosts = app.hosts === undefined ? [] : (checkValue(file, `${at}.hosts`, 'string-list', app.hosts, baseDir) as string[]).map((h) => h.toLowerCase());
      if (app.name !== undefined && (typeof app.name !== 'string' || !/^[\w.-]+$/.test(app.name))) throw invalid(file, `${at}.name`, 'must be letters, digits, . _ - only');
      const name = app.name as string | undefined;
      if (name !== undefined) {
        if (names.has(name)) throw invalid(file, `${at}.name`, `"${name}" is used by another app`);
        names.add(name);
      }
      const options = readOptions(file, at, app, false, new Set(['root', 'hosts', 'name', 'environments']), baseDir);
      apps.push({ root: path.resolve(baseDir, app.root), name, hosts, options, environments: readEnvironments(file, at, app.environments, baseDir) });
    });
  }
  return { path: path.resolve(file), options, environments, apps };
}
