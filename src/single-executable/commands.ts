// Every command, by id, for the single executable: oclif finds them on disk elsewhere
// (dist/commands), but a bundle has no directory to look in. A unit test keeps the two in step.

import type { Command } from '@oclif/core';
import CrashWatch from '../commands/crash-watch.js';
import DetachProcess from '../commands/detach-process.js';
import LogLevel from '../commands/log-level.js';
import Logs from '../commands/logs.js';
import MemoryStats from '../commands/memory-stats.js';
import ReopenLogs from '../commands/reopen-logs.js';
import RestartApp from '../commands/restart-app.js';
import Restart from '../commands/restart.js';
import Start from '../commands/start.js';
import Status from '../commands/status.js';
import Stop from '../commands/stop.js';
import SystemdUnit from '../commands/systemd-unit.js';

export const COMMANDS: Record<string, Command.Class> = {
  'crash-watch': CrashWatch,
  'detach-process': DetachProcess,
  'log-level': LogLevel,
  logs: Logs,
  'memory-stats': MemoryStats,
  'reopen-logs': ReopenLogs,
  'restart-app': RestartApp,
  restart: Restart,
  start: Start,
  status: Status,
  stop: Stop,
  'systemd-unit': SystemdUnit,
};
