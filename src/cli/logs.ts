// ferry reopen-logs and ferry log-level: the admin API calls behind them (the core passes both on
// to the watchdog, so the whole instance follows).

import type { ConfigResponse, ReopenLogsResponse } from '../lib/admin-api-contract.js';
import type { LogLevel } from '../lib/config.js';
import { openAdminClient, type InstanceFlags } from './instance-client.js';

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
