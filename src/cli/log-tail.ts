// Reading the daemon log as `tail -n N -f` does, without the core: the last lines that match,
// read backwards in chunks (a log of gigabytes costs what its end costs), then, when following,
// new lines as they come, across rotation: logrotate's rename + new file (the renamed file is
// still drained for a while: the core and the watchdog write to it until they reopen) and
// copytruncate (the file shrinks: read again from its start).

import fs from 'node:fs';
import { entryTime, matches, parseLogLine, type LogEntry, type LogFilter } from './format/log-line.js';

const CHUNK_BYTES = 64 * 1024;
/** Two processes write the log; their lines may be out of order by this much. */
const ORDER_SLACK_MS = 5_000;
export const POLL_MS = 200;
/** How long a renamed file is still read after the new one appeared (until the writers have reopened). */
export const RENAMED_DRAIN_MS = 10_000;

/** Splits bytes at newlines; the last piece is what follows the last newline ('' when it ends with one). */
function splitLines(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, start)) {
    out.push(buf.subarray(start, nl));
    start = nl + 1;
  }
  out.push(buf.subarray(start));
  return out;
}

export interface TailResult {
  entries: LogEntry[];
  /** Where following goes on: just after the last whole line. */
  offset: number;
}

/** The offset just after the file's last newline (0 when it has none): an unfinished last line is left to following. */
function endOfLastLine(fd: number, size: number): number {
  let pos = size;
  while (pos > 0) {
    const len = Math.min(CHUNK_BYTES, pos);
    pos -= len;
    const chunk = Buffer.alloc(len);
    fs.readSync(fd, chunk, 0, len, pos);
    const nl = chunk.lastIndexOf(10);
    if (nl !== -1) return pos + nl + 1;
  }
  return 0;
}

/**
 * The last `maxLines` entries that match (all of them when undefined: --since alone), in file
 * order. Reads backwards from the end and stops once it has them, or at records older than
 * filter.sinceMs, or once it has read `maxBytes` (a live view asking for one quiet app's lines
 * must not read a whole log of gigabytes every second).
 */
export function readLastEntries(fd: number, size: number, maxLines: number | undefined, filter: LogFilter, maxBytes = Infinity): TailResult {
  const offset = endOfLastLine(fd, size);
  const found: LogEntry[] = [];
  const want = maxLines ?? Infinity;
  let pos = offset;
  // The start of the earliest line read so far, whose beginning lies further back.
  let carry: Buffer = Buffer.alloc(0);
  let done = want === 0;
  while (pos > 0 && !done && offset - pos < maxBytes) {
    const len = Math.min(CHUNK_BYTES, pos);
    pos -= len;
    const chunk = Buffer.alloc(len);
    fs.readSync(fd, chunk, 0, len, pos);
    const pieces = splitLines(carry.length ? Buffer.concat([chunk, carry]) : chunk);
    // Every piece but the first ends at a newline (the last one where the carry did); the first
    // is whole only at the start of the file.
    carry = pos > 0 ? (pieces.shift() as Buffer) : Buffer.alloc(0);
    for (let i = pieces.length - 1; i >= 0; i--) {
      const text = (pieces[i] as Buffer).toString('utf8');
      if (text === '') continue;
      const entry = parseLogLine(text);
      const time = entryTime(entry);
      if (filter.sinceMs !== undefined && time !== undefined && time < filter.sinceMs - ORDER_SLACK_MS) {
        done = true;
        break;
      }
      if (!matches(entry, filter)) continue;
      found.push(entry);
      if (found.length >= want) {
        done = true;
        break;
      }
    }
  }
  return { entries: found.reverse(), offset };
}

interface OpenFile {
  fd: number;
  dev: number;
  ino: number;
  offset: number;
  /** Bytes of a line whose newline has not come yet. */
  partial: Buffer;
  /** Renamed away: read until then, then closed. */
  drainUntilMs?: number;
}

/**
 * Follows a log file by path: reads what is added, notices rotation, hands each new line to
 * `onEntry` (already filtered). `stop()` ends it.
 */
export class LogFollower {
  private files: OpenFile[];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string,
    first: { fd: number; offset: number },
    private readonly filter: LogFilter,
    private readonly onEntry: (entry: LogEntry) => void,
    private readonly now: () => number = Date.now,
  ) {
    const st = fs.fstatSync(first.fd);
    this.files = [{ fd: first.fd, dev: st.dev, ino: st.ino, offset: first.offset, partial: Buffer.alloc(0) }];
  }

  start(pollMs = POLL_MS): void {
    const loop = (): void => {
      this.poll();
      this.timer = setTimeout(loop, pollMs);
    };
    this.timer = setTimeout(loop, pollMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    for (const f of this.files) fs.closeSync(f.fd);
    this.files = [];
  }

  /** One round: drain every open file, then look for a new file at the path. Public for tests. */
  poll(): void {
    for (const f of this.files) this.drain(f);
    const current = this.files.at(-1);
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(this.file);
    } catch {
      // Renamed, the new file not created yet: keep reading the old one.
    }
    if (st && current && (st.dev !== current.dev || st.ino !== current.ino)) {
      try {
        const fd = fs.openSync(this.file, 'r');
        const opened = fs.fstatSync(fd);
        current.drainUntilMs = this.now() + RENAMED_DRAIN_MS;
        const next: OpenFile = { fd, dev: opened.dev, ino: opened.ino, offset: 0, partial: Buffer.alloc(0) };
        this.files.push(next);
        this.drain(next);
      } catch {
        // Not readable (yet): the next round tries again.
      }
    }
    const now = this.now();
    this.files = this.files.filter((f) => {
      if (f.drainUntilMs === undefined || now < f.drainUntilMs) return true;
      this.drain(f);
      fs.closeSync(f.fd);
      return false;
    });
  }

  private drain(f: OpenFile): void {
    const { size } = fs.fstatSync(f.fd);
    // Shrunk: copytruncate emptied it; what comes now starts at 0.
    if (size < f.offset) {
      f.offset = 0;
      f.partial = Buffer.alloc(0);
    }
    while (f.offset < size) {
      const len = Math.min(CHUNK_BYTES, size - f.offset);
      const chunk = Buffer.alloc(len);
      const read = fs.readSync(f.fd, chunk, 0, len, f.offset);
      if (read === 0) break;
      f.offset += read;
      const pieces = splitLines(f.partial.length ? Buffer.concat([f.partial, chunk.subarray(0, read)]) : chunk.subarray(0, read));
      f.partial = pieces.pop() as Buffer;
      for (const piece of pieces) {
        const text = piece.toString('utf8');
        if (text === '') continue;
        const entry = parseLogLine(text);
        if (matches(entry, this.filter)) this.onEntry(entry);
      }
    }
  }
}
