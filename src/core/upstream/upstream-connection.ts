// One kept-alive connection to an app process (its unix socket, or TCP for a generic app). It
// carries one exchange at a time (no pipelining) and hands the socket's events to it; between
// exchanges it waits in its pool's idle list, where an app that closes it, or a byte that no
// request asked for, drops it at once. Its listeners are set once per connection, not per request.

import net from 'node:net';
import { ResponseHeadParser } from '../engine/response-head.js';
import type { UpstreamAddress } from '../spawn/spawner.js';

/** What a connection carries (an UpstreamExchange): the socket's events, as they come. */
export interface ConnectionRider {
  onConnected(): void;
  onBytes(chunk: Buffer): void;
  onDrain(): void;
  /** The app closed its side. */
  onAppEnded(): void;
  onConnectionClosed(connection: UpstreamConnection, err: (Error & { code?: string }) | undefined): void;
}

/** What a connection tells its pool. */
export interface ConnectionOwner {
  /** The connection closed (the app closed it, or we did); forget it. */
  onConnectionClosed(connection: UpstreamConnection): void;
}

export class UpstreamConnection {
  readonly socket: net.Socket;
  /** Reads the answers' heads; ready for the next one after each. */
  readonly parser = new ResponseHeadParser();
  connected = false;
  closed = false;
  /** Exchanges it has carried to their end: a reused connection may meet the app closing it. */
  served = 0;
  exchange: ConnectionRider | undefined;
  /** When it went idle, and how long it may stay so (the app's Keep-Alive hint, or the pool's default). */
  idleSinceMs = 0;
  keepAliveMs: number;
  /** The last Keep-Alive value read, and what it came to: apps send the same one every time. */
  keepAliveHint: string | undefined;
  keepAliveHintMs = 0;
  /** The error the socket reported before closing (ECONNREFUSED, ENOENT, ECONNRESET, EPIPE). */
  private error: (Error & { code?: string }) | undefined;

  constructor(
    address: UpstreamAddress,
    private readonly owner: ConnectionOwner,
    defaultKeepAliveMs: number,
  ) {
    this.keepAliveMs = defaultKeepAliveMs;
    const socket = 'socketPath' in address ? net.connect(address.socketPath) : net.connect(address.port, address.host);
    // TCP only (a unix socket has no Nagle): the head and a small body must not wait for an ACK.
    if (!('socketPath' in address)) socket.setNoDelay(true);
    this.socket = socket;
    socket.on('connect', () => {
      this.connected = true;
      this.exchange?.onConnected();
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.exchange !== undefined) this.exchange.onBytes(chunk);
      // Bytes on an idle connection answer nothing we asked: it cannot be trusted with a request.
      else this.destroy();
    });
    socket.on('drain', () => this.exchange?.onDrain());
    // The app closed its side: an idle connection is dropped; an exchange may be close-delimited.
    socket.on('end', () => {
      const { exchange } = this;
      if (exchange !== undefined) exchange.onAppEnded();
      this.destroy();
    });
    socket.on('error', (err: Error) => {
      this.error = err;
    });
    socket.on('close', () => {
      this.closed = true;
      const { exchange } = this;
      this.exchange = undefined;
      this.owner.onConnectionClosed(this);
      exchange?.onConnectionClosed(this, this.error);
    });
  }

  /**
   * The socket leaves this connection, open (a 101 made it a tunnel): none of the connection's
   * listeners stays on it, and the connection counts as closed.
   */
  detach(): net.Socket {
    const { socket } = this;
    for (const event of ['connect', 'data', 'drain', 'end', 'error', 'close']) socket.removeAllListeners(event);
    this.closed = true;
    this.exchange = undefined;
    // Bytes wait for the new owner's reader (flowing without a 'data' listener, they would be lost).
    socket.pause();
    return socket;
  }

  /** Its socket goes now; the exchange on it, if any, learns it from 'close'. */
  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }
}
