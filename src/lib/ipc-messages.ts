// Messages on the IPC channels ferry start -> watchdog -> core. Plain JSON, versioned by shape.

import type { FerryConfig } from './config.js';
import type { ErrorPayload } from './error-codes.js';

export type LogFormat = 'json' | 'pretty';

/**
 * The fd of the --metrics-address listening socket in the watchdog and in the core, beside the
 * public socket at fd 3 (LISTEN_FDS); fd 4 is the IPC channel.
 */
export const METRICS_FD = 5;

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

export type WatchdogToCli = { type: 'ready'; instance: InstanceSummary } | { type: 'failed'; error: ErrorPayload };

/**
 * Watchdog -> core. A handover (`ferry restart`, SIGHUP) runs: prepare (the old core stops
 * managing its processes, only serves), a new core starts and adopts them, then finish (the old
 * core stops accepting, finishes its requests and exits, leaving the processes) or, if the new
 * core failed, abort (the old core manages them again).
 */
export type WatchdogToCore = { type: 'shutdown' } | { type: 'handover-prepare' } | { type: 'handover-finish' } | { type: 'handover-abort' };

export type CoreToWatchdog = { type: 'ready' } | { type: 'startup-failed'; error: ErrorPayload } | { type: 'handover-prepared' };

export function isMessageOfType<T extends { type: string }>(value: unknown, type: T['type']): value is T {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === type;
}
