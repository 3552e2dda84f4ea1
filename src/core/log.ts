// The logger of the watchdog and the core: pino behind a small facade (callers write
// `log.info(msg, fields)`), one NDJSON record per line ({level, time, pid, ...bindings, ...fields,
// msg}), or a readable line when a person is watching a terminal. Writes are synchronous (one
// write(2) per line on the log file, sonic-boom in sync mode on stdout; no worker thread): a line
// is in the file when the call returns, so a crash loses nothing and a reopen after logrotate
// splits the stream cleanly between the old file and the new.

import fs from 'node:fs';
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from '../lib/config.js';
import type { LogFormat } from '../lib/ipc-messages.js';
import { openOwnFile } from '../lib/own-files.js';

export type { LogFormat };

const LEVEL_NUMBERS: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 };
const LEVEL_NAMES: Record<number, string> = { 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR' };

/** Keys pino writes itself: a field of one call must not repeat (and so overwrite) them. */
const RESERVED_KEYS = ['level', 'time', 'pid', 'msg'] as const;

export type LogFields = Record<string, unknown>;

/** Where lines go: anything with a synchronous write (a file, stdout, a test's array). */
export interface LogSink {
  write(line: string): void;
}

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Default: stdout. */
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

/**
 * Turns one JSON record into "TIME LEVEL where[pid]: msg key=value ...". Ours rather than
 * pino-pretty: pino-pretty adds ~40 ms to every process start and ~2 MB RSS (README, Logs), and
 * only terminals see this.
 */
export function formatPrettyLine(json: string): string {
  const { level, time, pid, component, app, msg, err, ...rest } = JSON.parse(json) as LogFields;
  // App output reads best as the app's own line: "hello[4242]: listening".
  const isAppOutput = app !== undefined && rest.stream !== undefined;
  const where = isAppOutput ? `${String(app)}[${String(pid)}]` : `${String(component ?? '')}[${String(pid)}]`;
  if (isAppOutput) delete rest.stream;
  else if (app !== undefined) rest.app = app;
  const extras = Object.entries(rest).map(([key, value]) => `${key}=${formatPrettyValue(value)}`);
  const errInfo = err as { stack?: string; message?: string } | undefined;
  const errText = errInfo ? `\n  ${errInfo.stack ?? errInfo.message ?? JSON.stringify(errInfo)}` : '';
  const levelName = LEVEL_NAMES[level as number] ?? String(level);
  return `${new Date(time as number).toISOString()} ${levelName.padEnd(5)} ${where}: ${String(msg)}${extras.length ? ' ' + extras.join(' ') : ''}${errText}\n`;
}

function prettyStream(sink: LogSink): DestinationStream {
  return { write: (line: string) => sink.write(formatPrettyLine(line)) };
}

/** stdout without throwing: the terminal of a foreground `ferry start` may be gone. */
function stdoutSink(): LogSink {
  const dest = pino.destination({ fd: 1, sync: true });
  dest.on('error', () => undefined);
  return dest;
}

/** What a logger and all its children share: the level (one setLevel for all) and the pino roots. */
interface SharedState {
  level: LogLevel;
  threshold: number;
  /** Ferry's own records: pid is this process. */
  root: PinoLogger;
  /** Records that name their own pid (an app's output): no base fields. */
  bare: PinoLogger;
}

function createShared(opts: LoggerOptions): SharedState {
  const sink = opts.sink ?? stdoutSink();
  const stream = opts.format === 'pretty' ? prettyStream(sink) : (sink as DestinationStream);
  // The facade filters levels (children see setLevel at once); pino writes whatever reaches it.
  const common = {
    level: 'debug',
    serializers: { err: serializeError },
    formatters: {
      log(fields: LogFields): LogFields {
        if (!RESERVED_KEYS.some((key) => key in fields)) return fields;
        // A copy: the caller's object stays as it was.
        const kept = { ...fields };
        for (const key of RESERVED_KEYS) delete kept[key];
        return kept;
      },
    },
  };
  return {
    level: opts.level,
    threshold: LEVEL_NUMBERS[opts.level],
    root: pino({ ...common, base: { pid: process.pid } }, stream),
    bare: pino({ ...common, base: null }, stream),
  };
}

/** What a child is made from: the shared state, its root, and all its bindings so far. */
interface Inherited {
  state: SharedState;
  root: PinoLogger;
  bindings: LogFields;
}

export class Logger {
  private readonly state: SharedState;
  private readonly root: PinoLogger;
  private readonly bindings: LogFields;
  private readonly pino: PinoLogger;

  constructor(opts: LoggerOptions | Inherited, bindings: LogFields = {}) {
    const inherited = 'state' in opts ? opts : undefined;
    this.state = inherited?.state ?? createShared(opts as LoggerOptions);
    this.root = inherited?.root ?? this.state.root;
    this.bindings = { ...inherited?.bindings, ...bindings };
    // One pino child from the root with every binding merged: a key bound twice (component)
    // appears once, with the inner value.
    this.pino = Object.keys(this.bindings).length > 0 ? this.root.child(this.bindings) : this.root;
  }

  /** A logger that adds fields to every line; level changes apply to parent and children alike. */
  child(bindings: LogFields): Logger {
    return new Logger({ state: this.state, root: this.root, bindings: this.bindings }, bindings);
  }

  /**
   * A logger for lines another process wrote (an app's stdout and stderr): `pid` is that
   * process, not this one, and none of this logger's bindings apply. Shares level and destination.
   */
  foreign(bindings: LogFields & { pid: number }): Logger {
    return new Logger({ state: this.state, root: this.state.bare, bindings: {} }, bindings);
  }

  get level(): LogLevel {
    return this.state.level;
  }

  /** One comparison: guards debug lines whose fields cost something to build (per request). */
  get debugEnabled(): boolean {
    return this.state.threshold <= 20;
  }

  setLevel(level: LogLevel): void {
    this.state.level = level;
    this.state.threshold = LEVEL_NUMBERS[level];
  }

  debug(msg: string, fields?: LogFields): void {
    if (this.state.threshold <= 20) this.pino.debug(fields ?? {}, msg);
  }
  info(msg: string, fields?: LogFields): void {
    if (this.state.threshold <= 30) this.pino.info(fields ?? {}, msg);
  }
  warn(msg: string, fields?: LogFields): void {
    if (this.state.threshold <= 40) this.pino.warn(fields ?? {}, msg);
  }
  error(msg: string, fields?: LogFields): void {
    this.pino.error(fields ?? {}, msg);
  }
}

export function createLogger(opts: LoggerOptions, bindings: LogFields = {}): Logger {
  return new Logger(opts, bindings);
}

/**
 * The log file (`--log-file`), appended to synchronously; `reopen()` after logrotate renamed it
 * opens the path again, so the next line goes to the new file and none is lost in between. Every
 * open goes through openOwnFile: the default log lives in the app's directory, where its user could
 * plant a link for root to append to.
 */
export class ReopenableFileSink implements LogSink {
  private current: number;

  /**
   * `appUids`: the users the apps run as, who may own the file (openOwnFile); `fd`: a descriptor of
   * the file already open and checked (the core's stdout, from the watchdog).
   */
  constructor(
    readonly path: string,
    private readonly appUids: readonly number[] = [],
    fd?: number,
  ) {
    this.current = fd ?? openOwnFile(path, 'log', appUids).fd;
  }

  /** The descriptor of the file now open (a core launched after a rotation gets it as stdout). */
  get fd(): number {
    return this.current;
  }

  write(line: string): void {
    try {
      writeAll(this.current, Buffer.from(line));
    } catch {
      // A full disk must not crash the server; the line is lost, the next may succeed.
    }
  }

  /** Throws when the path cannot be opened (its directory gone, a link planted): the old file stays. */
  reopen(): void {
    const previous = this.current;
    this.current = openOwnFile(this.path, 'log', this.appUids).fd;
    // 1 and 2 stay: stdout and stderr of this process still point there.
    if (previous > 2) fs.closeSync(previous);
  }
}

function writeAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off);
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
