// The live view's log pane: the selected app's last lines, read as `ferry logs` reads them (the
// same file reader and line parser), from the end of the file only.

import fs from 'node:fs';
import type { LogEntry as LogLine } from '../format/log-line.js';
import { readLastEntries } from '../log-tail.js';

export interface LogEntry {
  /** Epoch ms; undefined for a line that is not one of Ferry's JSON records. */
  time?: number;
  /** pino's number (30 info, 40 warn, 50 error); undefined for a plain line. */
  level?: number;
  /** The app a line is about (app output, and Ferry's lines about that app). */
  app?: string;
  pid?: number;
  /** stdout or stderr for an app's own output. */
  stream?: string;
  msg: string;
}

/** What the pane shows of one log line. */
export function paneEntry(line: LogLine): LogEntry {
  if (line.kind === 'raw' || typeof line.record.msg !== 'string') return { msg: line.text };
  const record = line.record;
  const entry: LogEntry = { msg: record.msg as string };
  if (typeof record.time === 'number') entry.time = record.time;
  if (typeof record.level === 'number') entry.level = record.level;
  if (typeof record.app === 'string') entry.app = record.app;
  // App output carries the app's pid as `pid`; Ferry's lines about a process name it `appPid`.
  const pid = typeof record.appPid === 'number' ? record.appPid : record.pid;
  if (typeof pid === 'number') entry.pid = pid;
  if (typeof record.stream === 'string') entry.stream = record.stream;
  return entry;
}

export interface TailOptions {
  /** Entries wanted (the last ones). */
  lines: number;
  /** Only entries about this app. */
  app?: string;
  /** How much of the file's end to read. */
  maxBytes?: number;
}

/** The last `lines` entries of `file` (oldest first); [] when the file cannot be read. */
export function readLogTail(file: string, opts: TailOptions): LogEntry[] {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const { entries } = readLastEntries(fd, fs.fstatSync(fd).size, opts.lines, opts.app === undefined ? {} : { app: opts.app }, opts.maxBytes ?? 256 * 1024);
    return entries.map(paneEntry);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
