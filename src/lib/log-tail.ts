// The last lines of an instance's log file, parsed: what the live view's log pane shows. Reads
// only the end of the file (a log of gigabytes costs one read of `maxBytes`), works with the core
// down, and takes any line it cannot parse as plain text.

import fs from 'node:fs';

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

/** One line of the log as an entry: Ferry's NDJSON record, or the line itself. */
export function parseLogLine(line: string): LogEntry {
  if (line.startsWith('{')) {
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      if (typeof record.msg === 'string') {
        const entry: LogEntry = { msg: record.msg };
        if (typeof record.time === 'number') entry.time = record.time;
        if (typeof record.level === 'number') entry.level = record.level;
        if (typeof record.app === 'string') entry.app = record.app;
        // App output carries the app's pid as `pid`; Ferry's lines about a process name it `appPid`.
        const pid = typeof record.appPid === 'number' ? record.appPid : record.pid;
        if (typeof pid === 'number') entry.pid = pid;
        if (typeof record.stream === 'string') entry.stream = record.stream;
        return entry;
      }
    } catch {
      // not JSON after all: shown as it is
    }
  }
  return { msg: line };
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
  const maxBytes = opts.maxBytes ?? 256 * 1024;
  let text: string;
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const start = Math.max(0, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    const read = fs.readSync(fd, buffer, 0, buffer.length, start);
    text = buffer.subarray(0, read).toString('utf8');
    // Read from the middle of a line: that first piece is not a line.
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  const entries: LogEntry[] = [];
  const rawLines = text.split('\n');
  for (let i = rawLines.length - 1; i >= 0 && entries.length < opts.lines; i--) {
    const line = rawLines[i] as string;
    if (line === '') continue;
    const entry = parseLogLine(line);
    if (opts.app !== undefined && entry.app !== opts.app) continue;
    entries.push(entry);
  }
  return entries.reverse();
}
