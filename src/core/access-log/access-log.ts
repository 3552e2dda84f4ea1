// The access log (--access-log FILE|-): one line per request the front answered, written in
// batches. A request costs building its line and appending it to a buffer; the buffer goes out in
// one write(2) every FLUSH_MS (or once it holds FLUSH_BYTES), off the event loop, so the log costs
// no syscall per request. The price: a core killed with SIGKILL loses the last FLUSH_MS of lines
// (a graceful stop, a crash through an exception and process.exit all flush first).

import fs from 'node:fs';
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

/**
 * One request's line as it fills in: the times and the client at its arrival, then what the
 * stages learn (request id, app, the process that answered, the cache's verdict); the stage proxy
 * adds the request's own fields and the answer's status and bytes at the end (stages/access.ts).
 */
export interface AccessEntry {
  startMs: number;
  startPerf: number;
  /** Bytes the connection had sent before this answer began. */
  startBytes: number;
  client: string | undefined;
  requestId?: string | undefined;
  app?: string | undefined;
  /** The proxied request (its worker is the process that answered). */
  tracked?: { worker?: { pid: number } | undefined } | undefined;
  cache?: CacheVerdict | undefined;
}

/** The request as it was read, for its line. */
export interface AccessRequestFacts {
  method: string;
  /** In origin-form once the door admitted it; as sent otherwise. */
  target: string;
  httpVersion: string;
  referer: string | undefined;
  userAgent: string | undefined;
}

export interface AccessLogOptions {
  target: AccessLogTarget;
  format: AccessLogFormat;
  /** The client's address as Ferry sees it (behind a trusted front: the one it names). */
  clientOf: (remoteAddress: string | undefined, forwardedFor: string | string[] | undefined) => string | undefined;
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

  /** Writes what is pending now (tests read the file right after). */
  flushSync(): void {
    this.writer.flushSync();
  }

  close(): void {
    process.off('exit', this.exitFlush);
    this.writer.close();
  }

  /** The client's address as the line shows it. */
  clientOf(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined): string | undefined {
    return this.opts.clientOf(remoteAddress, forwardedFor);
  }

  /** An entry for a request that has just arrived: its line is written by end(). */
  begin(startBytes: number, client: string | undefined): AccessEntry {
    return { startMs: Date.now(), startPerf: performance.now(), startBytes, client };
  }

  /** The request's line, once its answer is over; `answered` false: nothing of an answer was sent (logged 499, as nginx). */
  end(entry: AccessEntry, request: AccessRequestFacts, answered: boolean, status: number, bytes: number): void {
    const record: AccessRecord = {
      timeMs: entry.startMs,
      client: entry.client,
      method: request.method,
      target: request.target,
      httpVersion: request.httpVersion,
      status: answered ? status : 499,
      bytes: Math.max(0, bytes),
      durationMs: performance.now() - entry.startPerf,
      app: entry.app,
      pid: entry.tracked?.worker?.pid,
      cache: entry.cache,
      requestId: entry.requestId,
      referer: request.referer,
      userAgent: request.userAgent,
    };
    // A line is not worth a core: a bug here is reported, not thrown into the front.
    try {
      this.writer.write(this.format(record));
    } catch (err) {
      this.opts.onError?.(err as NodeJS.ErrnoException);
    }
  }

  /** A request the parser refused (malformed, too large, too slow): no method or target to tell. */
  refusedByParser(remoteAddress: string | undefined, status: number, requestId: string, bytes: number): void {
    const record: AccessRecord = {
      timeMs: Date.now(),
      client: remoteAddress,
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
}
