// Upload buffering: a request body read whole from the client before a process is checked out,
// so a client that uploads slowly never holds a process of limited concurrency (Passenger's
// upload buffering). In memory up to REQUEST_MEMORY_BYTES, then in a 0600 file of the BufferDir.

import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { BufferDir } from './buffer-dir.js';

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

/** What a buffer asks of its body's source: stop, and go on, while the disk is slower than the client. */
export interface BodyFlow {
  pause(): void;
  resume(): void;
}

/**
 * One request's body, read from the client as fast as it sends it: the front pushes its chunks,
 * then says it ended or that the client went (stages/upload.ts).
 */
export class RequestBodyBuffer implements BufferUsage {
  memoryBytes = 0;
  diskBytes = 0;
  /** Resolves once the whole body is held; rejects with ClientGoneError or a file error. */
  readonly received: Promise<void>;
  private chunks: Buffer[] = [];
  private file: fs.WriteStream | undefined;
  private filePath: string | undefined;
  /**
   * The whole body's file, open and already gone from the directory: what is in a buffer
   * directory is only ever bodies still arriving, so none is seen there after its answer (the
   * client can read the answer's last byte before the core has run another line).
   */
  private anchor: number | undefined;
  private disposed = false;
  private settled = false;
  /** The file as the app is sent it: closed with the buffer, so its descriptor never waits for the garbage collector. */
  private reader: Readable | undefined;
  private resolve: () => void = () => undefined;
  private reject: (err: Error) => void = () => undefined;

  constructor(
    private readonly dir: BufferDir,
    private readonly flow: BodyFlow,
    /** The body came without a Content-Length (chunked): it needs one of its own before it goes to the app. */
    readonly needsLength: boolean,
  ) {
    this.received = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  get length(): number {
    return this.memoryBytes + this.diskBytes;
  }

  /** The client went away (or its body broke) before the body was complete. */
  fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.dispose();
    this.reject(err);
  }

  push(chunk: Buffer): void {
    if (this.settled) return;
    if (this.file === undefined && this.memoryBytes + chunk.length <= REQUEST_MEMORY_BYTES) {
      this.chunks.push(chunk);
      this.memoryBytes += chunk.length;
      return;
    }
    const file = this.file ?? this.spill();
    this.diskBytes += chunk.length;
    // The disk is slower than the client: read no faster than it writes.
    if (!file.write(chunk)) {
      this.flow.pause();
      file.once('drain', () => this.flow.resume());
    }
  }

  /** The whole body has arrived. */
  end(): void {
    if (this.settled) return;
    const { file } = this;
    if (file === undefined) {
      this.settled = true;
      this.resolve();
      return;
    }
    // Closed, not just flushed: then held open by its descriptor alone, and unlinked.
    file.once('close', () => {
      if (this.settled || this.disposed) return;
      try {
        this.anchor = fs.openSync(this.filePath as string, 'r');
        fs.rmSync(this.filePath as string, { force: true });
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      this.settled = true;
      this.resolve();
    });
    file.end();
  }

  /** Moves what is in memory to a new file; the rest of the body follows it there. */
  private spill(): fs.WriteStream {
    const filePath = this.dir.nextPath('request');
    const file = fs.createWriteStream(filePath, { flags: 'wx', mode: 0o600 });
    // Removed only once the stream is closed: it creates the file asynchronously, and a removal
    // before that would leave the file behind.
    file.once('close', () => {
      if (this.disposed) fs.rm(filePath, { force: true }, () => undefined);
    });
    file.on('error', (err) => this.fail(err));
    this.file = file;
    this.filePath = filePath;
    for (const chunk of this.chunks) file.write(chunk);
    this.diskBytes = this.memoryBytes;
    this.memoryBytes = 0;
    this.chunks = [];
    return file;
  }

  /** The body as the upstream pool sends it; a new one each time, so a request refused by one process can go to another. */
  upstreamBody(): Buffer | Readable {
    if (this.anchor !== undefined) {
      // The one before went to a process that refused it: nobody reads it any more.
      this.reader?.destroy();
      // A description of its own (Linux reopens an unlinked file through /proc), read from the start.
      this.reader = fs.createReadStream(`/proc/self/fd/${this.anchor}`);
      return this.reader;
    }
    return this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.memoryBytes);
  }

  /** Frees the memory and removes the file: once the app has answered, or when the request ends, however it ends. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.chunks = [];
    this.memoryBytes = 0;
    this.diskBytes = 0;
    const { anchor, file, filePath, reader } = this;
    reader?.destroy();
    if (anchor !== undefined) {
      // Closed once the reader has let go: a reader still opening its /proc path must not find
      // the descriptor's number given to another file.
      if (reader === undefined || reader.closed) fs.closeSync(anchor);
      else reader.once('close', () => fs.close(anchor, () => undefined));
      return;
    }
    if (file === undefined || filePath === undefined) return;
    if (file.closed) fs.rmSync(filePath, { force: true });
    else file.destroy(); // its 'close' removes the file
  }
}
