// `ferry logs`' reading of the daemon log: one JSON record per line (pino: level, time in epoch
// ms, pid, component or app + stream, msg), turned into a readable line, filtered by app, stream,
// level and time. Pure: the tail and follow loop (src/cli/log-tail.ts) feeds it lines.

import type { LogLevel } from '../../lib/config.js';

export const LEVEL_NUMBERS: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 };
const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** A line of the log: a record Ferry wrote, or text that is not one (what Node printed on a fatal error). */
export type LogEntry = { kind: 'record'; record: Record<string, unknown>; text: string } | { kind: 'raw'; text: string };

export function parseLogLine(text: string): LogEntry {
  if (text.charCodeAt(0) === 123 /* { */) {
    try {
      const record = JSON.parse(text) as unknown;
      if (typeof record === 'object' && record !== null && !Array.isArray(record)) return { kind: 'record', record: record as Record<string, unknown>, text };
    } catch {
      // not JSON after all
    }
  }
  return { kind: 'raw', text };
}

/** The app's own level when its line was a pino-style JSON record (nested under `json`), else the record's. */
export function effectiveLevel(record: Record<string, unknown>): number {
  const nested = (record.json as { level?: unknown } | undefined)?.level;
  if (typeof nested === 'number' && LEVEL_NAMES[nested] !== undefined) return nested;
  return typeof record.level === 'number' ? record.level : 30;
}

export interface LogFilter {
  app?: string;
  stream?: 'stdout' | 'stderr';
  /** Least severe level shown (pino number). */
  minLevel?: number;
  /** Epoch ms: older records are left out. */
  sinceMs?: number;
}

/**
 * Whether a line is shown. Text that is no record (a crash's stack, printed by Node itself) has no
 * app, stream, level or time: it is shown unless an app or a stream was asked for.
 */
export function matches(entry: LogEntry, filter: LogFilter): boolean {
  if (entry.kind === 'raw') return filter.app === undefined && filter.stream === undefined && entry.text.trim() !== '';
  const r = entry.record;
  if (filter.app !== undefined && r.app !== filter.app) return false;
  if (filter.stream !== undefined && r.stream !== filter.stream) return false;
  if (filter.minLevel !== undefined && effectiveLevel(r) < filter.minLevel) return false;
  if (filter.sinceMs !== undefined && typeof r.time === 'number' && r.time < filter.sinceMs) return false;
  return true;
}

/** The record's time, for a reader scanning backwards to know it has gone far enough. */
export function entryTime(entry: LogEntry): number | undefined {
  return entry.kind === 'record' && typeof entry.record.time === 'number' ? entry.record.time : undefined;
}

export interface LineStyle {
  dim(text: string): string;
  level(level: number, text: string): string;
  /** App stderr: its own colour, so it stands out from stdout. */
  stderr(text: string): string;
  source(text: string): string;
}

const ansi =
  (open: string) =>
  (text: string): string =>
    `\u001b[${open}m${text}\u001b[0m`;

export const COLOR_STYLE: LineStyle = {
  dim: ansi('2'),
  level: (level, text) => (level >= 50 ? ansi('1;31')(text) : level >= 40 ? ansi('33')(text) : level >= 30 ? ansi('32')(text) : ansi('2')(text)),
  stderr: ansi('31'),
  source: ansi('36'),
};

export const PLAIN_STYLE: LineStyle = { dim: (t) => t, level: (_l, t) => t, stderr: (t) => t, source: (t) => t };

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** "2026-12-02 05:06:07.123" in local time. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function show(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

/** Keys every record has, shown in their own columns rather than as key=value. */
const COLUMNS = new Set(['level', 'time', 'pid', 'component', 'msg', 'err', 'stream', 'partial', 'json']);
/** Keys of an app's own JSON record that the columns show already. */
const NESTED_COLUMNS = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'v']);

/**
 * One readable line: `TIME LEVEL WHO[PID] STREAM: message key=value`. App output names the app
 * and its stream (stderr marked in its own colour); Ferry's own lines say `ferry COMPONENT`.
 */
export function formatEntry(entry: LogEntry, style: LineStyle): string {
  if (entry.kind === 'raw') return entry.text;
  const r = entry.record;
  const level = effectiveLevel(r);
  const time = typeof r.time === 'number' ? localTime(r.time) : '-';
  const levelText = style.level(level, (LEVEL_NAMES[level] ?? String(level)).padEnd(5));
  const pid = r.pid === undefined ? '' : `[${String(r.pid)}]`;
  const msg = typeof r.msg === 'string' ? r.msg : '';
  const isAppOutput = r.stream === 'stdout' || r.stream === 'stderr';
  const extras: string[] = [];
  if (isAppOutput) {
    const nested = r.json as Record<string, unknown> | undefined;
    if (nested && typeof nested === 'object') for (const [k, v] of Object.entries(nested)) if (!NESTED_COLUMNS.has(k)) extras.push(`${k}=${show(v)}`);
    const who = style.source(`${String(r.app ?? '?')}${pid}`);
    const rest = extras.length ? ` ${style.dim(extras.join(' '))}` : '';
    if (r.stream === 'stderr') return `${style.dim(time)} ${levelText} ${who} ${style.stderr('stderr')}: ${style.stderr(msg)}${rest}`;
    return `${style.dim(time)} ${levelText} ${who} stdout: ${msg}${rest}`;
  }
  for (const [k, v] of Object.entries(r)) if (!COLUMNS.has(k)) extras.push(`${k}=${show(v)}`);
  const who = style.source(`ferry ${String(r.component ?? '?')}${pid}`);
  const err = r.err as { stack?: unknown; message?: unknown } | undefined;
  const errText = err && typeof err === 'object' ? `\n    ${String(err.stack ?? err.message ?? JSON.stringify(err)).replace(/\n/g, '\n    ')}` : '';
  return `${style.dim(time)} ${levelText} ${who}: ${msg}${extras.length ? ` ${style.dim(extras.join(' '))}` : ''}${errText}`;
}

/** The line as `--json` gives it: the record as written, or the text of a line that was none. */
export function entryJson(entry: LogEntry): string {
  return entry.kind === 'record' ? entry.text : JSON.stringify({ raw: entry.text });
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const TIME_OF_DAY = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;

/**
 * `--since`: a duration back from now (90s, 10m, 2h, 1d), a time of day today (14:30, 14:30:05;
 * local), or a date and time (2026-12-02, 2026-12-02 14:30, ISO 8601). Undefined when it is none.
 */
export function parseSince(text: string, now: Date = new Date()): number | undefined {
  const t = text.trim();
  const duration = DURATION.exec(t);
  if (duration) return now.getTime() - Number(duration[1]) * (UNIT_MS[duration[2] as string] as number);
  const tod = TIME_OF_DAY.exec(t);
  if (tod) {
    const [h, m, s] = [Number(tod[1]), Number(tod[2]), Number(tod[3] ?? 0)];
    if (h > 23 || m > 59 || s > 59) return undefined;
    const d = new Date(now);
    d.setHours(h, m, s, 0);
    return d.getTime();
  }
  // A date alone is local midnight (Date.parse would take it as UTC).
  const dateOnly = /^(\d{4})-(\d{2})-(\d{2})$/.exec(t);
  if (dateOnly) return new Date(Number(dateOnly[1]), Number(dateOnly[2]) - 1, Number(dateOnly[3])).getTime();
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}/.test(t)) return undefined;
  const ms = Date.parse(t.replace(' ', 'T'));
  return Number.isNaN(ms) ? undefined : ms;
}
