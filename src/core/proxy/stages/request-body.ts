// The client's request body as the upstream client reads it (an async iterable of chunks), fed
// by the exchange's onBodyData: nothing is read from the client until the upstream connection is
// made (so a refused connection leaves it unread, and the request may go to another process),
// and reading the client pauses while the app's socket is slower than the client.

import type { Exchange } from '../../front/exchange.js';

/** Bytes waiting for the app before reading the client pauses. */
const HIGH_WATER_BYTES = 64 * 1024;

export class ExchangeBody implements AsyncIterable<Buffer> {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private failed: Error | undefined;
  private wake: (() => void) | undefined;
  /** The iteration began: the body is (being) read and cannot be sent again. */
  touched = false;

  constructor(private readonly exchange: Exchange) {}

  push(chunk: Buffer): void {
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued >= HIGH_WATER_BYTES) this.exchange.pauseBody();
    this.poke();
  }

  end(): void {
    this.ended = true;
    this.poke();
  }

  /** The client went, or its body was refused: the app's side fails with this. */
  fail(err: Error): void {
    this.failed ??= err;
    this.poke();
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    this.touched = true;
    this.exchange.readBody();
    for (;;) {
      if (this.failed) throw this.failed;
      const chunk = this.queue.shift();
      if (chunk !== undefined) {
        this.queued -= chunk.length;
        if (this.queued < HIGH_WATER_BYTES) this.exchange.resumeBody();
        yield chunk;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
