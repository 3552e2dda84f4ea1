// The logger of the watchdog and the core: one line per event, NDJSON in pino's shape
// ({level, time, pid, component, msg, ...}) or a readable line when a person is watching.

import fs from 'node:fs';
import type { LogLevel } from '../lib/config.js';

import type { LogFormat } from '../lib/ipc-messages.js';

export type { LogFormat };

const LEVEL_NUMBERS: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 };

export type LogFields = Record<string, unknown>;

export interface LogSink {
  write(line: string): void;
}

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  sink?: LogSink;
}

function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const out: Record<string, unknown> = { type: err.name, message: err.message, stack: err.stack };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  return out;
}

function formatPrettyValue(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

export class Logger {
  private readonly state: { level: LogLevel; format: LogFormat; sink: LogSink };
  private readonly bindings: LogFields;

  constructor(opts: LoggerOptions, bindings: LogFields = {}, shared?: { level: LogLevel; format: LogFormat; sink: LogSink }) {
    this.state = shared ?? { level: opts.level, format: opts.format, sink: opts.sink ?? { write: (line) => writeStdout(line) } };
    this.bindings = bindings;
  }

  /** A logger that adds fields to every line; level changes apply to parent and children alike. */
  child(bindings: LogFields): Logger {
    return new Logger(this.state, { ...this.bindings, ...bindings }, this.state);
  }

  setLevel(level: LogLevel): void {
    this.state.level = level;
  }

  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }

  private log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVEL_NUMBERS[level] < LEVEL_NUMBERS[this.state.level]) return;
    const record: LogFields = { ...this.bindings, ...fields };
    if (record.err !== undefined) record.err = serializeError(record.err);
    const time = Date.now();
    if (this.state.format === 'json') {
      this.state.sink.write(JSON.stringify({ ...record, level: LEVEL_NUMBERS[level], time, pid: process.pid, msg }) + '\n');
      return;
    }
    const { component, ...rest } = record;
    // App output reads best as the app's own line: "hello[4242]: listening".
    const isAppLine = rest.app !== undefined && rest.appPid !== undefined;
    const extras = Object.entries(rest)
      .filter(([key]) => key !== 'err' && !(isAppLine && (key === 'app' || key === 'appPid')))
      .map(([key, value]) => `${key}=${formatPrettyValue(value)}`);
    const errText = rest.err ? `\n  ${(rest.err as { stack?: string; message?: string }).stack ?? (rest.err as { message?: string }).message}` : '';
    const where = isAppLine ? `${String(rest.app)}[${String(rest.appPid)}]` : `${String(component ?? '')}[${process.pid}]`;
    this.state.sink.write(
      `${new Date(time).toISOString()} ${level.toUpperCase().padEnd(5)} ${where}: ${msg}${extras.length ? ' ' + extras.join(' ') : ''}${errText}\n`,
    );
  }
}

function writeStdout(line: string): void {
  try {
    process.stdout.write(line);
  } catch {
    // stdout gone (the foreground CLI died): logging must never take the server down.
  }
}

export function createLogger(opts: LoggerOptions, bindings: LogFields = {}): Logger {
  return new Logger(opts, bindings);
}

/** A log file that can be reopened after logrotate moved it away. Writes are asynchronous. */
export class ReopenableFileSink implements LogSink {
  private stream: fs.WriteStream;

  constructor(readonly path: string) {
    this.stream = this.open();
  }

  private open(): fs.WriteStream {
    const stream = fs.createWriteStream(this.path, { flags: 'a', mode: 0o640 });
    // A full disk must not crash the server; the line is lost, the next may succeed.
    stream.on('error', () => undefined);
    return stream;
  }

  write(line: string): void {
    this.stream.write(line);
  }

  reopen(): void {
    const old = this.stream;
    this.stream = this.open();
    old.end();
  }
}

/**
 * A warning that can come once per request under overload (a queue full, an app that cannot
 * start): logged at most once per interval per message, the next line saying how many were left
 * out, so an overloaded core does not spend itself writing the same line thousands of times.
 */
export function throttledWarn(log: Logger, intervalMs = 1_000, now: () => number = Date.now): (msg: string, fields?: LogFields) => void {
  const seen = new Map<string, { lastMs: number; suppressed: number }>();
  return (msg, fields) => {
    const t = now();
    const state = seen.get(msg);
    if (state && t - state.lastMs < intervalMs) {
      state.suppressed++;
      return;
    }
    const suppressed = state?.suppressed ?? 0;
    seen.set(msg, { lastMs: t, suppressed: 0 });
    log.warn(msg, suppressed > 0 ? { ...fields, suppressedSinceLast: suppressed } : fields);
  };
}
