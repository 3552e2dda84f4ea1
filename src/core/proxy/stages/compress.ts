// Compression of the app's answer on its way to the client (--compression; compression.ts decides
// whether and with what): the body goes through node:zlib (brotli at quality 5, gzip at level 6)
// and what comes out goes on as the app's bytes would (to the cache, then the client, with
// response buffering). Each piece the app writes is flushed through at once, so a streamed answer
// reaches the client as it is written, compressed. Backpressure both ways: a full compressor stops
// reading the app; a client that takes no more pauses the compressor.

import zlib from 'node:zlib';
import type { Coding } from '../compression.js';

export interface CompressorSink {
  /** A compressed piece for the client; false: pause until resume(). */
  out(chunk: Buffer): boolean;
  /** The compressor takes more again: read the app. */
  drained(): void;
  /** Everything is out (after end()). */
  done(): void;
  failed(err: Error): void;
}

export class ResponseCompressor {
  private readonly stream: zlib.BrotliCompress | zlib.Gzip;
  private closed = false;
  /** The app's bytes in, and the compressed bytes out (for the counters). */
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    coding: Coding,
    private readonly sink: CompressorSink,
  ) {
    this.stream = coding === 'br' ? zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } }) : zlib.createGzip({ level: 6 });
    this.stream.on('data', (chunk: Buffer) => {
      this.bytesOut += chunk.length;
      if (!this.sink.out(chunk)) this.stream.pause();
    });
    this.stream.on('drain', () => this.sink.drained());
    this.stream.once('end', () => {
      this.closed = true;
      this.sink.done();
    });
    this.stream.once('error', (err) => {
      this.closed = true;
      this.sink.failed(err);
    });
  }

  /** A piece of the app's body; false: stop reading the app until drained(). */
  write(chunk: Buffer): boolean {
    if (this.closed) return true;
    this.bytesIn += chunk.length;
    const more = this.stream.write(chunk);
    // Through at once: a streamed answer must not wait in the compressor for more.
    this.stream.flush(this.stream instanceof zlib.Gzip ? zlib.constants.Z_SYNC_FLUSH : zlib.constants.BROTLI_OPERATION_FLUSH);
    return more;
  }

  /** The client took what it had: go on. */
  resume(): void {
    if (!this.closed) this.stream.resume();
  }

  /** The app's body is complete: the rest comes out, then done(). */
  end(): void {
    if (!this.closed) this.stream.end();
  }

  /** The answer is over otherwise (the client left, the app failed): nothing more comes out. */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.destroy();
  }
}
