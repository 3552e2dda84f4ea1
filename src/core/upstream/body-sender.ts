// Sends a streamed request body to the app: a Readable (a buffered body's file) by its events,
// any other async iterable (the client's body as the front reads it, stages/request-body.ts) by
// iteration, each with backpressure (the socket refuses, the source waits for 'drain'), chunked
// when the head said so. The source is never destroyed here: the client's request is also the
// client's connection, which still gets its answer (413, 502, 504) after the app's side has failed.

import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';

const LAST_CHUNK = '0\r\n\r\n';

/** What the sender tells its exchange. */
export interface BodySenderOwner {
  /** The whole body has been written. */
  onBodySent(): void;
  /** The source failed (the client went away, the body is over max-body-size). */
  onBodyFailed(err: Error): void;
}

export function isReadable(body: object): body is Readable {
  return typeof (body as Readable).pipe === 'function' && typeof (body as Readable).on === 'function';
}

export class BodySender {
  /** Reading the source has begun (the connection was made). */
  private started = false;
  private stopped = false;
  /** Waiting for the socket's 'drain' to go on. */
  private waiting = false;
  private drained: (() => void) | undefined;
  private readonly onChunk = (chunk: Buffer): void => {
    if (!this.write(chunk)) (this.source as Readable).pause();
  };
  private readonly onEnd = (): void => this.finish();
  private readonly onError = (err: Error): void => this.fail(err);
  private readonly onClose = (): void => {
    // Closed before its end: the client went away in the middle of its body.
    if (!this.stopped) this.fail(new Error('the request body ended before its end'));
  };

  constructor(
    private readonly socket: Socket,
    private readonly source: Readable | AsyncIterable<Buffer>,
    private readonly chunked: boolean,
    private readonly owner: BodySenderOwner,
  ) {}

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const { source } = this;
    if (isReadable(source)) {
      if (source.readableEnded) {
        this.finish();
        return;
      }
      source.on('data', this.onChunk);
      source.once('end', this.onEnd);
      source.once('error', this.onError);
      source.once('close', this.onClose);
      source.resume();
      return;
    }
    void this.iterate(source);
  }

  /** The socket drained: the source may go on. */
  onDrain(): void {
    if (!this.waiting) return;
    this.waiting = false;
    if (this.drained !== undefined) {
      const go = this.drained;
      this.drained = undefined;
      go();
    } else if (!this.stopped) (this.source as Readable).resume();
  }

  /** No more of the body is wanted (the answer is complete, or the exchange failed). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.detach();
    // The rest is read and dropped (as Node's server does with a body nobody reads, and as undici
    // did), so that the client's connection can carry its next request after the answer. A
    // source never started stays unread: the request may still go to another process.
    if (this.started && isReadable(this.source)) this.source.resume();
    // An iteration waiting for 'drain' leaves its loop (and returns its iterator).
    this.onDrainForced();
  }

  private onDrainForced(): void {
    const go = this.drained;
    this.drained = undefined;
    this.waiting = false;
    go?.();
  }

  private async iterate(source: AsyncIterable<Buffer>): Promise<void> {
    try {
      for await (const chunk of source) {
        if (this.stopped) return;
        if (!this.write(chunk)) await new Promise<void>((resolve) => (this.drained = resolve));
        if (this.stopped) return;
      }
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.finish();
  }

  /** One chunk, framed if chunked; false when the socket wants us to wait. */
  private write(chunk: Buffer): boolean {
    if (this.stopped || chunk.length === 0) return true; // an empty chunk would end a chunked body
    const { socket } = this;
    let more: boolean;
    if (this.chunked) {
      socket.cork();
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      more = socket.write('\r\n', 'latin1');
      socket.uncork();
    } else {
      more = socket.write(chunk);
    }
    if (!more) this.waiting = true;
    return more;
  }

  private finish(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.detach();
    if (this.chunked) this.socket.write(LAST_CHUNK, 'latin1');
    this.owner.onBodySent();
  }

  private fail(err: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    this.detach();
    this.owner.onBodyFailed(err);
  }

  private detach(): void {
    const { source } = this;
    if (!isReadable(source)) return;
    source.off('data', this.onChunk);
    source.off('end', this.onEnd);
    source.off('error', this.onError);
    source.off('close', this.onClose);
  }
}
