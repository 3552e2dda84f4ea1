// Messages on the IPC channels ferry start -> watchdog -> core. Plain JSON, versioned by shape.

import type { FerryConfig, LogLevel } from './config.js';
import type { ErrorPayload } from './error-codes.js';

export type LogFormat = 'json' | 'pretty';

/** CLI -> watchdog: the first and only message that configures it. */
export interface LaunchMessage {
  type: 'launch';
  config: FerryConfig;
  registryDir: string;
  logFormat: LogFormat;
  pidFile?: string;
  /** Inode of the public unix socket file, so the watchdog removes it at stop only if it is still ours. */
  unixSocketInode?: number;
}

/** CLI -> watchdog: the CLI is about to exit on purpose (daemon mode); keep running. */
export interface DetachMessage {
  type: 'detach';
}

export type CliToWatchdog = LaunchMessage | DetachMessage;

export interface InstanceSummary {
  name: string;
  dir: string;
  watchdogPid: number;
  corePid: number;
  addresses: string[];
}

/** Watchdog -> ferry start. stopping and core-restart feed sd_notify (STOPPING=1, RELOADING=1 ... READY=1). */
export type WatchdogToCli =
  | { type: 'ready'; instance: InstanceSummary }
  | { type: 'failed'; error: ErrorPayload }
  | { type: 'stopping' }
  | { type: 'core-restart'; state: 'running' | 'done' | 'failed' };

/**
 * Watchdog -> core. A handover (`ferry restart`, SIGHUP) runs: prepare (the old core stops
 * managing its processes, only serves), a new core starts and adopts them, then finish (the old
 * core stops accepting, finishes its requests and exits, leaving the processes) or, if the new
 * core failed, abort (the old core manages them again).
 */
export type WatchdogToCore = { type: 'shutdown' } | { type: 'handover-prepare' } | { type: 'handover-finish' } | { type: 'handover-abort' } | ReopenLogsMessage;

/**
 * Either way (both write the same --log-file): reopen the log file, after logrotate moved it.
 * The watchdog sends it on SIGUSR1, the core after the admin API's POST /v1/logs/reopen.
 */
export interface ReopenLogsMessage {
  type: 'reopen-logs';
}

/** Core -> watchdog: the admin API changed the log level; the watchdog follows, and so will the next core. */
export interface LogLevelMessage {
  type: 'log-level';
  level: LogLevel;
}

export type CoreToWatchdog = { type: 'ready' } | { type: 'startup-failed'; error: ErrorPayload } | { type: 'handover-prepared' } | ReopenLogsMessage | LogLevelMessage;

export function isMessageOfType<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
