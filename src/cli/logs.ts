// ferry logs (reads the log file the registry names: no core needed), and ferry reopen-logs and
// ferry log-level (admin API calls; the core passes both on to the watchdog, so the whole instance
// follows).

import fs from 'node:fs';
import path from 'node:path';
import type { ConfigResponse, ReopenLogsResponse } from '../lib/admin-api-contract.js';
import type { LogLevel } from '../lib/config.js';
import { INSTANCE_FILES, type InstanceInfo } from '../lib/instance-registry.js';
import { CliError } from './errors.js';
import { COLOR_STYLE, entryJson, formatEntry, LEVEL_NUMBERS, parseSince, PLAIN_STYLE, type LogEntry, type LogFilter } from './format/log-line.js';
import { openAdminClient, type InstanceFlags } from './instance-client.js';
import { locateInstance } from './locate-instance.js';
import { LogFollower, readLastEntries } from './log-tail.js';

export interface ReopenLogsResult {
  instance: string;
  /** The file reopened; null when the instance logs to stdout (nothing to reopen). */
  logFile: string | null;
  /** The access log file, reopened too, when there is one. */
  accessLog?: string;
}

export async function reopenLogs(flags: InstanceFlags): Promise<ReopenLogsResult> {
  const client = openAdminClient(flags);
  const answer = await client.call<ReopenLogsResponse>('reopenLogs');
  return { instance: client.instance.name, logFile: answer.logFile, ...(answer.accessLog !== undefined ? { accessLog: answer.accessLog } : {}) };
}

export interface LogLevelResult {
  instance: string;
  logLevel: LogLevel;
  /** The level before this command; equal to logLevel when only asked. */
  previous: LogLevel;
}

/** Sets the level when `level` is given; either way answers the level in force. */
export async function changeLogLevel(flags: InstanceFlags, level: LogLevel | undefined): Promise<LogLevelResult> {
  const client = openAdminClient(flags);
  const before = await client.call<ConfigResponse>('getConfig');
  if (level === undefined || level === before.logLevel) return { instance: client.instance.name, logLevel: before.logLevel, previous: before.logLevel };
  const after = await client.call<ConfigResponse>('patchConfig', {}, { logLevel: level });
  return { instance: client.instance.name, logLevel: after.logLevel, previous: before.logLevel };
}

/** How `ferry logs` reads: which lines, how many, and whether it goes on. */
export interface ShowLogsOptions {
  'instance-registry-dir'?: string;
  instance?: string;
  /** A log file to read instead of an instance's (a stopped instance, a copy). */
  file?: string;
  app?: string;
  follow: boolean;
  /** Undefined: all lines (with --since), else the last N that match. */
  lines: number | undefined;
  since?: string;
  stream?: 'stdout' | 'stderr';
  level?: LogLevel;
  json: boolean;
  color: boolean;
}

/** The log file of the instance the flags name, as its registry entry says (the core need not run). */
export function instanceLogFile(flags: Pick<ShowLogsOptions, 'instance-registry-dir' | 'instance' | 'app'>): { file: string; instance: InstanceInfo } {
  let instance: InstanceInfo;
  try {
    instance = locateInstance({ registryDir: flags['instance-registry-dir'], name: flags.instance });
  } catch (err) {
    // A stopped instance's log is still on disk: say how to read it.
    if (err instanceof CliError && err.code === 'FERRY_ERR_INSTANCE_NOT_RUNNING') {
      throw new CliError(err.code, err.message, [
        'Read the log file of a stopped instance with: ferry logs --file FILE (a daemon logs to log/ferry.PORT.log in its app by default).',
        ...err.suggestions,
      ]);
    }
    throw err;
  }
  const apps = instance.properties.apps.map((a) => a.name);
  if (flags.app !== undefined && !apps.includes(flags.app)) {
    throw new CliError('FERRY_ERR_APP_UNKNOWN', `instance ${instance.name} serves no app named '${flags.app}'`, [`Its apps: ${apps.join(', ')}`]);
  }
  // Instances started before properties.json had log_file: their config says.
  const file = instance.properties.log_file !== undefined ? instance.properties.log_file : readInstanceConfigLogFile(instance.dir);
  if (!file) {
    throw new CliError('FERRY_ERR_LOG_NOT_IN_FILE', `instance ${instance.name} logs to the terminal of its ferry start (started in the foreground without --log-file); there is no file to read`, [
      'Read it in that terminal (or, under systemd, with journalctl -u UNIT).',
      'Start it with --log-file FILE, or with --daemonize, to have ferry logs read it.',
    ]);
  }
  return { file, instance };
}

function readInstanceConfigLogFile(dir: string): string | null {
  try {
    return (JSON.parse(fs.readFileSync(path.join(dir, INSTANCE_FILES.config), 'utf8')) as { logFile?: string }).logFile ?? null;
  } catch {
    return null;
  }
}

function openForReading(file: string): number {
  try {
    return fs.openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' ? 'permission denied' : code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new CliError('FERRY_ERR_LOG_UNREADABLE', `cannot read the log file ${file}: ${why}`, [
      code === 'EACCES' ? 'Run ferry logs as the instance\'s user or root (the log is mode 0640).' : 'Check the path; logrotate may have moved it (ferry logs --file PATH reads any log file).',
    ]);
  }
}

export function logFilter(opts: Pick<ShowLogsOptions, 'app' | 'stream' | 'level' | 'since'>, now = new Date()): LogFilter {
  let sinceMs: number | undefined;
  if (opts.since !== undefined) {
    sinceMs = parseSince(opts.since, now);
    if (sinceMs === undefined) {
      throw new CliError('FERRY_ERR_USAGE', `--since '${opts.since}' is neither a duration nor a date and time`, ['For example: --since 10m, --since 2h, --since 14:30, --since "2026-12-02 14:30"']);
    }
  }
  return {
    ...(opts.app !== undefined ? { app: opts.app } : {}),
    ...(opts.stream !== undefined ? { stream: opts.stream } : {}),
    ...(opts.level !== undefined ? { minLevel: LEVEL_NUMBERS[opts.level] } : {}),
    ...(sinceMs !== undefined ? { sinceMs } : {}),
  };
}

/**
 * Prints the last lines of the log, then, with `follow`, every new one until the returned
 * `stop` is called (SIGINT). Resolves once it has printed what it had to (at once without follow).
 */
export function showLogs(opts: ShowLogsOptions, write: (text: string) => void): { file: string; stop: () => void } {
  const filter = logFilter(opts);
  const file = opts.file !== undefined ? path.resolve(opts.file) : instanceLogFile(opts).file;
  const fd = openForReading(file);
  const style = opts.color ? COLOR_STYLE : PLAIN_STYLE;
  const print = (entry: LogEntry): void => write((opts.json ? entryJson(entry) : formatEntry(entry, style)) + '\n');
  const { entries, offset } = readLastEntries(fd, fs.fstatSync(fd).size, opts.lines, filter);
  for (const entry of entries) print(entry);
  if (!opts.follow) {
    fs.closeSync(fd);
    return { file, stop: () => undefined };
  }
  const follower = new LogFollower(file, { fd, offset }, filter, print);
  follower.start();
  return { file, stop: () => follower.stop() };
}
