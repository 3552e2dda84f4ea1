// App processes write their stdout and stderr into named pipes (FIFOs) in the instance directory,
// not into pipes the core owns: a pipe dies with its reader, and an app that logs after a core
// crash would then get EPIPE and die too. The app holds its FIFO open for reading and writing, so
// the pipe always has a reader; the core (this one, or the next after a crash or a `ferry
// restart`) opens it and reads. While no core reads, the app can write 64 KiB before it waits.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import type { LogFields } from '../log.js';

export interface OutputFifos {
  stdout: string;
  stderr: string;
}

/** Creates the two FIFOs of one app process (mode 0600) next to `base`. */
export function createOutputFifos(base: string): OutputFifos {
  const fifos = { stdout: `${base}.out`, stderr: `${base}.err` };
  for (const file of [fifos.stdout, fifos.stderr]) fs.rmSync(file, { force: true });
  // Node has no mkfifo(); coreutils' is on every Linux host Ferry runs on.
  execFileSync('mkfifo', ['-m', '600', fifos.stdout, fifos.stderr], { stdio: 'ignore' });
  return fifos;
}

export function removeOutputFifos(fifos: OutputFifos): void {
  fs.rmSync(fifos.stdout, { force: true });
  fs.rmSync(fifos.stderr, { force: true });
}

/** The descriptor the app gets as stdout or stderr: read-write, so the FIFO never lacks a reader. */
export function openFifoForApp(file: string): number {
  return fs.openSync(file, fs.constants.O_RDWR);
}

/** Longest line logged as one record; longer ones are split into records of this many characters. */
export const MAX_LINE_CHARS = 16 * 1024;
/** How long an unfinished line (no newline yet: a prompt, a progress bar) waits before it is logged. */
export const PARTIAL_LINE_FLUSH_MS = 500;

/**
 * Cuts a stream of text into lines. A line ends at a newline; one that grows past `maxLineChars`,
 * or sits unfinished for `flushAfterMs`, is emitted as it is with `partial` set (the next piece
 * continues it), so one app cannot make the core buffer without bound nor hide its last words.
 */
export class LineSplitter {
  private pending = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onLine: (line: string, partial: boolean) => void,
    private readonly maxLineChars = MAX_LINE_CHARS,
    private readonly flushAfterMs = PARTIAL_LINE_FLUSH_MS,
  ) {}

  push(text: string): void {
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      this.emitWhole(this.pending + text.slice(start, nl));
      this.pending = '';
      start = nl + 1;
    }
    this.pending += text.slice(start);
    while (this.pending.length > this.maxLineChars) {
      this.onLine(this.pending.slice(0, this.maxLineChars), true);
      this.pending = this.pending.slice(this.maxLineChars);
    }
    clearTimeout(this.timer);
    this.timer = this.pending ? setTimeout(() => this.flush(), this.flushAfterMs) : undefined;
  }

  /** Emits an unfinished line now (the stream ended, or it waited long enough). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending) return;
    const rest = this.pending;
    this.pending = '';
    this.onLine(rest, true);
  }

  private emitWhole(line: string): void {
    let text = line.endsWith('\r') ? line.slice(0, -1) : line;
    while (text.length > this.maxLineChars) {
      this.onLine(text.slice(0, this.maxLineChars), true);
      text = text.slice(this.maxLineChars);
    }
    this.onLine(text, false);
  }
}

/**
 * An exception as the WSGI and Rack loaders report it: one JSON line on stderr with
 * `ferryAppException` (the app's own frames only, the traceback bounded to stay one line).
 */
export interface LoaderException {
  when: 'load' | 'request';
  type: string;
  message: string;
  file?: string | null;
  line?: number | null;
  function?: string | null;
  /** As the language prints it uncaught (Python's traceback, Ruby's full_message). */
  traceback: string;
}

function loaderException(json: object): LoaderException | undefined {
  const e = (json as { ferryAppException?: unknown }).ferryAppException;
  if (typeof e !== 'object' || e === null) return undefined;
  const { when, type, traceback } = e as Partial<LoaderException>;
  return (when === 'load' || when === 'request') && typeof type === 'string' && typeof traceback === 'string' ? (e as LoaderException) : undefined;
}

export interface AppLine {
  msg: string;
  fields?: LogFields;
  /** A loader's exception record: logged at error level, its traceback kept as the app's output. */
  exception?: LoaderException;
}

/**
 * The record of one line of app output. A line that is a JSON object (an app logging with pino or
 * the like) is nested under `json`, its `msg` (if a string) becoming ours: one jq filter then
 * reads Ferry's and the app's records alike, nothing is escaped twice, and the app's own level,
 * time and pid cannot collide with the envelope's.
 */
export function describeAppLine(line: string, partial: boolean): AppLine {
  if (partial) return { msg: line, fields: { partial: true } };
  if (line.charCodeAt(0) === 123 /* { */ && line.charCodeAt(line.length - 1) === 125 /* } */) {
    try {
      const json = JSON.parse(line) as unknown;
      if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
        const msg = (json as { msg?: unknown }).msg;
        const exception = loaderException(json);
        if (exception) return { msg: typeof msg === 'string' ? msg : exception.traceback, fields: { exception }, exception };
        return { msg: typeof msg === 'string' ? msg : '', fields: { json } };
      }
    } catch {
      // Looked like JSON, is not: logged as text.
    }
  }
  return { msg: line };
}

/**
 * Reads one FIFO line by line (see LineSplitter). `onEnd` fires when every writer is gone (the
 * app and whatever it spawned have exited). `close()` stops reading without affecting the app.
 */
export function readFifoLines(file: string, onLine: (line: string, partial: boolean) => void, onEnd?: () => void): { close(): void } {
  // O_NONBLOCK: open() returns at once even with no writer yet; libuv polls the descriptor.
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const socket = new net.Socket({ fd, readable: true, writable: false });
  socket.setEncoding('utf8');
  const lines = new LineSplitter(onLine);
  socket.on('data', (text: string) => lines.push(text));
  let closed = false;
  socket.on('error', () => undefined);
  socket.once('close', () => {
    lines.flush();
    if (!closed) onEnd?.();
  });
  return {
    close() {
      closed = true;
      lines.flush();
      socket.destroy();
    },
  };
}
