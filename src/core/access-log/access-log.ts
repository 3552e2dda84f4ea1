// The access log (--access-log FILE|-): one line per request the front answered, written in
// batches. A request costs building its line and appending it to a buffer; the buffer goes out in
// one write(2) every FLUSH_MS (or once it holds FLUSH_BYTES), off the event loop, so the log costs
// no syscall per request. The price: a core killed with SIGKILL loses the last FLUSH_MS of lines
// (a graceful stop, a crash through an exception and process.exit all flush first).

import fs from 'node:fs';
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import { openOwnFile } from '../../lib/own-files.js';
import { accessLineFormatter, type AccessLogFormat, type AccessRecord, type CacheVerdict } from './format.js';

export const FLUSH_MS = 100;
export const FLUSH_BYTES = 64 * 1024;
/** Lines waiting beyond this (a disk that does not keep up) are dropped and counted, not held. */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024;

/** Where the lines go: a file (reopened after logrotate) or this process's stdout ("-"). */
export interface AccessLogTarget {
  /** The file, or '-' for stdout. */
  path: string;
  /** The users an app runs as, who may own the file (see openOwnFile). */
  appUids: readonly number[];
}

/**
 * Appends lines to a descriptor in batches. One write in flight at a time, so lines keep their
 * order; a reopen swaps the descriptor between writes, so every line lands in exactly one file.
 */
export class BatchedWriter {
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing = false;
  /** Lines dropped since the last report (the disk did not keep up). */
  private dropped = 0;
  /** Descriptors replaced by a reopen, closed once the write in flight on them is done. */
  private retired: number[] = [];

  constructor(
    private fd: number,
    private readonly ownsFd: boolean,
    private readonly onError: (err: NodeJS.ErrnoException) => void = () => undefined,
    /** Told, once the disk caught up again, how many lines were dropped meanwhile. */
    private readonly onDropped: (lines: number) => void = () => undefined,
  ) {}

  write(line: string): void {
    if (this.pendingBytes >= MAX_PENDING_BYTES) {
      this.dropped++;
      return;
    }
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Starts writing what is pending (unless a write is in flight: it continues when that one ends). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.pending.length === 0) return;
    const data = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
    this.writing = true;
    this.writeOut(this.fd, data, 0);
  }

  private writeOut(fd: number, data: Buffer, offset: number): void {
    fs.write(fd, data, offset, data.length - offset, null, (err, written) => {
      if (err?.code === 'EAGAIN') {
        // stdout may be a non-blocking pipe or terminal: try again shortly.
        setTimeout(() => this.writeOut(fd, data, offset), 10).unref();
        return;
      }
      if (!err && offset + written < data.length) return this.writeOut(fd, data, offset + written);
      if (err) this.onError(err);
      this.writing = false;
      if (this.dropped > 0) {
        this.onDropped(this.dropped);
        this.dropped = 0;
      }
      this.closeRetired();
      if (this.pending.length > 0) this.flush();
    });
  }

  /** Writes everything pending now, synchronously: at exit (the event loop will not run again). */
  flushSync(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const data = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
    try {
      for (let off = 0; off < data.length; ) off += fs.writeSync(this.fd, data, off);
    } catch (err) {
      this.onError(err as NodeJS.ErrnoException);
    }
  }

  /** From now on lines go to `fd`; what is pending goes there too (it was not written yet). */
  replaceFd(fd: number): void {
    if (this.ownsFd) this.retired.push(this.fd);
    this.fd = fd;
    if (!this.writing) this.closeRetired();
  }

  close(): void {
    this.flushSync();
    if (this.ownsFd) this.retired.push(this.fd);
    this.closeRetired();
  }

  private closeRetired(): void {
    for (const fd of this.retired.splice(0)) {
      try {
        fs.closeSync(fd);
      } catch {
        // closed already
      }
    }
  }
}

/** What the front knows of one request as it goes: set by the stages that learn it. */
export interface AccessEntry {
  startMs: number;
  startPerf: number;
  /** Bytes the connection had sent before this answer began. */
  startBytes: number;
  /** Taken at arrival: once a request with a body is done, node:http has let go of its socket. */
  socket: { bytesWritten: number };
  client: string | undefined;
  requestId?: string;
  app?: string;
  /** The proxied request (its worker is the process that answered). */
  tracked?: { worker?: { pid: number } };
  cache?: CacheVerdict;
}

/**
 * Where a request's entry rides: a property of its response, not a WeakMap (measured: a WeakMap
 * entry per request cost ~2 us in the garbage collector's ephemeron work, more than the line).
 */
const ENTRY = Symbol('ferry.accessEntry');
type WithEntry = http.ServerResponse & { [ENTRY]?: AccessEntry };

/** The entry of a request the access log follows (undefined when it is off). */
export function accessEntryOf(res: http.ServerResponse): AccessEntry | undefined {
  return (res as WithEntry)[ENTRY];
}

export interface AccessLogOptions {
  target: AccessLogTarget;
  format: AccessLogFormat;
  /** The client's address as Ferry sees it (behind a trusted front: the one it names). */
  clientOf: (req: http.IncomingMessage) => string | undefined;
  onError?: (err: NodeJS.ErrnoException) => void;
  onDropped?: (lines: number) => void;
}

export class AccessLog {
  readonly path: string;
  private readonly writer: BatchedWriter;
  private readonly format: (r: AccessRecord) => string;
  private readonly exitFlush = (): void => this.writer.flushSync();

  /** Opens the file (throws as openOwnFile does); '-' writes to stdout. */
  constructor(private readonly opts: AccessLogOptions) {
    this.path = opts.target.path;
    const toStdout = this.path === '-';
    this.writer = new BatchedWriter(toStdout ? 1 : openOwnFile(this.path, 'access', opts.target.appUids).fd, !toStdout, opts.onError, opts.onDropped);
    this.format = accessLineFormatter(opts.format);
    // process.exit() (a stop, a fatal error) runs 'exit' listeners synchronously: the last lines go out.
    process.on('exit', this.exitFlush);
  }

  /** Opens the path again after logrotate renamed it; throws (and keeps the old file) when it cannot. */
  reopen(): void {
    if (this.path === '-') return;
    const { fd } = openOwnFile(this.path, 'access', this.opts.target.appUids);
    this.writer.replaceFd(fd);
  }

  close(): void {
    process.off('exit', this.exitFlush);
    this.writer.close();
  }

  /** Follows one request from its arrival; its line is written when its answer closes. */
  begin(req: http.IncomingMessage, res: http.ServerResponse): AccessEntry {
    const socket = req.socket;
    const entry: AccessEntry = { startMs: Date.now(), startPerf: performance.now(), startBytes: socket.bytesWritten, socket, client: this.opts.clientOf(req) };
    // Pipelined behind another answer: its own bytes start when the connection is its turn.
    if (res.socket === null) res.once('socket', () => (entry.startBytes = socket.bytesWritten));
    (res as WithEntry)[ENTRY] = entry;
    res.once('close', () => {
      // A line is not worth a core: a bug here is reported, not thrown into node:http.
      try {
        this.writer.write(this.format(this.record(req, res, entry)));
      } catch (err) {
        this.opts.onError?.(err as NodeJS.ErrnoException);
      }
    });
    return entry;
  }

  /** A request node:http's parser refused (malformed, too large, too slow): no method or target to tell. */
  refusedByParser(socket: { remoteAddress?: string }, status: number, requestId: string, bytes: number): void {
    const record: AccessRecord = {
      timeMs: Date.now(),
      client: socket.remoteAddress,
      method: undefined,
      target: undefined,
      httpVersion: undefined,
      status,
      bytes,
      durationMs: 0,
      app: undefined,
      pid: undefined,
      cache: undefined,
      requestId,
      referer: undefined,
      userAgent: undefined,
    };
    this.writer.write(this.format(record));
  }

  private record(req: http.IncomingMessage, res: http.ServerResponse, entry: AccessEntry): AccessRecord {
    const referer = req.headers.referer;
    const userAgent = req.headers['user-agent'];
    return {
      timeMs: entry.startMs,
      client: entry.client,
      method: req.method ?? '-',
      target: req.url ?? '-',
      httpVersion: req.httpVersion,
      // Nothing was sent: the client left first (nginx says 499).
      status: res.headersSent ? res.statusCode : 499,
      bytes: Math.max(0, entry.socket.bytesWritten - entry.startBytes),
      durationMs: performance.now() - entry.startPerf,
      app: entry.app,
      pid: entry.tracked?.worker?.pid,
      cache: entry.cache,
      requestId: entry.requestId,
      referer,
      userAgent,
    };
  }
}
