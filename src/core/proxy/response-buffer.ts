// Real-time response buffering: the part of an app's answer a slow client has not taken yet, so
// the app can finish (and its process serve others) at its own speed (Passenger's
// passenger_response_buffer_high_watermark). In memory up to RESPONSE_MEMORY_BYTES, then appended
// to a 0600 file of the BufferDir and read back in order.
//
// The file is written and read with synchronous calls: chunks are at most a socket read (64 KiB)
// going to and from the page cache, a few microseconds each, and only for clients already too slow
// to keep up; asynchronous I/O would need a queue of its own to keep the chunks in order.

import fs from 'node:fs';
import type { BufferDir } from './buffer-dir.js';
import type { BufferUsage } from './request-body.js';

/** Real-time response buffering as the proxy is configured with it (--response-buffer-high-watermark). */
export interface ResponseBufferOptions {
  /** Bytes held for the client before the app is slowed down; 0 = plain backpressure. */
  highWatermarkBytes: number;
  dir: BufferDir;
}

/**
 * Bytes of one response kept in memory before the rest goes to disk. 1 MiB absorbs the typical
 * page or JSON answer outright, and keeps a hundred slow downloads at 100 MiB of heap at most.
 */
export const RESPONSE_MEMORY_BYTES = 1024 * 1024;

/** Bytes read back from the file at a time: what the client socket takes in one write. */
const READ_BYTES = 64 * 1024;

/**
 * A FIFO of chunks. Invariant: everything in memory is older than everything unread on disk, so
 * a chunk goes to memory only while nothing waits on disk.
 */
export class ResponseBuffer implements BufferUsage {
  memoryBytes = 0;
  /** Bytes written to the file and not yet read back. */
  diskBytes = 0;
  private readonly memory: Buffer[] = [];
  private fd: number | undefined;
  private filePath: string | undefined;
  private writeOffset = 0;
  private readOffset = 0;

  constructor(private readonly dir: BufferDir) {}

  get size(): number {
    return this.memoryBytes + this.diskBytes;
  }

  push(chunk: Buffer): void {
    if (this.diskBytes === 0 && this.memoryBytes + chunk.length <= RESPONSE_MEMORY_BYTES) {
      this.memory.push(chunk);
      this.memoryBytes += chunk.length;
      return;
    }
    if (this.fd === undefined) {
      this.filePath = this.dir.nextPath('response');
      this.fd = fs.openSync(this.filePath, 'wx+', 0o600);
    }
    fs.writeSync(this.fd, chunk, 0, chunk.length, this.writeOffset);
    this.writeOffset += chunk.length;
    this.diskBytes += chunk.length;
  }

  /** The oldest bytes not yet taken, or undefined when the buffer is empty. */
  shift(): Buffer | undefined {
    const chunk = this.memory.shift();
    if (chunk !== undefined) {
      this.memoryBytes -= chunk.length;
      return chunk;
    }
    if (this.diskBytes === 0 || this.fd === undefined) return undefined;
    const out = Buffer.allocUnsafe(Math.min(this.diskBytes, READ_BYTES));
    const read = fs.readSync(this.fd, out, 0, out.length, this.readOffset);
    if (read === 0) throw new Error(`response buffer file ${this.filePath} holds less than was written to it`);
    this.readOffset += read;
    this.diskBytes -= read;
    if (this.diskBytes === 0) {
      // All read back: start the file over, so a long stream does not grow it for ever.
      fs.ftruncateSync(this.fd, 0);
      this.readOffset = 0;
      this.writeOffset = 0;
    }
    return read === out.length ? out : out.subarray(0, read);
  }

  /** Frees the memory and removes the file; called when the response ends, however it ends. */
  dispose(): void {
    this.memory.length = 0;
    this.memoryBytes = 0;
    this.diskBytes = 0;
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
    fs.rmSync(this.filePath as string, { force: true });
  }
}
