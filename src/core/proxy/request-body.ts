// Upload buffering: a request body read whole from the client before a process is checked out,
// so a client that uploads slowly never holds a process of limited concurrency (Passenger's
// upload buffering). In memory up to REQUEST_MEMORY_BYTES, then in a 0600 file of the BufferDir.

import fs from 'node:fs';
import type http from 'node:http';
import type { Readable } from 'node:stream';
import type { BufferDir } from './buffer-dir.js';
import { BodyTooLargeError } from './client-limits.js';

/**
 * Bodies up to this size stay in memory. 64 KiB holds the form posts and JSON bodies most apps
 * get, while a thousand uploads in flight cost at most 64 MiB of the core's memory; anything
 * larger is a file upload, which the disk holds better than the heap.
 */
export const REQUEST_MEMORY_BYTES = 64 * 1024;

/** What `ferry status --show=requests` shows of a request's buffers. */
export interface BufferUsage {
  readonly memoryBytes: number;
  readonly diskBytes: number;
}

/** A request carries a body when it says so (RFC 9112 §6.3): Content-Length > 0 or Transfer-Encoding. */
export function hasRequestBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Whether to read the body whole before a process is checked out: always for a process that takes
 * a limited number of requests at once (a slow upload would hold one of its few slots), and for
 * unlimited-concurrency apps (Node) only when asked (--buffer-uploads), since they can wait on a
 * slow body cheaply and streaming saves the copy.
 */
export function shouldBufferBody(hasBody: boolean, concurrency: number, bufferUploads: boolean): boolean {
  return hasBody && (concurrency > 0 || bufferUploads);
}

/** The client went away (or its connection failed) before its body was complete. */
export class ClientGoneError extends Error {
  readonly code = 'FERRY_CLIENT_GONE';
  constructor() {
    super('the client closed the connection before its request body was complete');
  }
}

/** One request's body, read from the client as fast as it sends it. */
export class RequestBodyBuffer implements BufferUsage {
  memoryBytes = 0;
  diskBytes = 0;
  /** Resolves once the whole body is held; rejects with BodyTooLargeError, ClientGoneError or a file error. */
  readonly received: Promise<void>;
  private chunks: Buffer[] = [];
  private file: fs.WriteStream | undefined;
  private filePath: string | undefined;
  private disposed = false;

  constructor(
    private readonly req: http.IncomingMessage,
    private readonly dir: BufferDir,
    private readonly maxBodyBytes: number,
  ) {
    this.received = new Promise((resolve, reject) => this.read(resolve, reject));
  }

  get length(): number {
    return this.memoryBytes + this.diskBytes;
  }

  private read(resolve: () => void, reject: (err: Error) => void): void {
    const { req } = this;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      this.dispose();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      if (this.maxBodyBytes > 0 && this.length + chunk.length > this.maxBodyBytes) {
        fail(new BodyTooLargeError(this.maxBodyBytes));
        return;
      }
      if (this.file === undefined && this.memoryBytes + chunk.length <= REQUEST_MEMORY_BYTES) {
        this.chunks.push(chunk);
        this.memoryBytes += chunk.length;
        return;
      }
      const file = this.file ?? this.spill(fail);
      this.diskBytes += chunk.length;
      // The disk is slower than the client: read no faster than it writes.
      if (!file.write(chunk)) {
        req.pause();
        file.once('drain', () => req.resume());
      }
    };
    req.on('data', onData);
    req.once('end', () => {
      if (settled) return;
      if (this.file === undefined) {
        settled = true;
        resolve();
        return;
      }
      // Closed, not just flushed: from here on dispose() removes the file at once.
      this.file.once('close', () => {
        if (settled) return;
        settled = true;
        resolve();
      });
      this.file.end();
    });
    req.once('error', () => fail(new ClientGoneError()));
    req.once('close', () => {
      if (!req.complete) fail(new ClientGoneError());
    });
  }

  /** Moves what is in memory to a new file; the rest of the body follows it there. */
  private spill(fail: (err: Error) => void): fs.WriteStream {
    const filePath = this.dir.nextPath('request');
    const file = fs.createWriteStream(filePath, { flags: 'wx', mode: 0o600 });
    // Removed only once the stream is closed: it creates the file asynchronously, and a removal
    // before that would leave the file behind.
    file.once('close', () => {
      if (this.disposed) fs.rm(filePath, { force: true }, () => undefined);
    });
    file.on('error', (err) => fail(err));
    this.file = file;
    this.filePath = filePath;
    for (const chunk of this.chunks) file.write(chunk);
    this.diskBytes = this.memoryBytes;
    this.memoryBytes = 0;
    this.chunks = [];
    return file;
  }

  /** Whether a chunked body needs a Content-Length of its own before it goes to the app. */
  get needsLength(): boolean {
    return this.req.headers['content-length'] === undefined;
  }

  /** The body as the upstream pool sends it; a new one each time, so a request refused by one process can go to another. */
  upstreamBody(): Buffer | Readable {
    if (this.filePath !== undefined) return fs.createReadStream(this.filePath);
    return this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.memoryBytes);
  }

  /** Frees the memory and removes the file: once the app has answered, or when the request ends, however it ends. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.chunks = [];
    this.memoryBytes = 0;
    this.diskBytes = 0;
    const { file, filePath } = this;
    if (file === undefined || filePath === undefined) return;
    // One unlink, done before the client hears the answer, so no one ever sees the file linger.
    if (file.closed) fs.rmSync(filePath, { force: true });
    else file.destroy(); // its 'close' removes the file
  }
}
