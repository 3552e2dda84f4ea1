// A client and an app connection spliced together after a 101 (Switching Protocols), for either
// proxy engine: plain sockets, bytes both ways untouched. A tunnel closes (both sockets, so no
// descriptor is left behind) when no byte has gone either way for the idle timeout, when either
// side ends (once the other has what was still on its way) or fails, and when close() is called.

import type net from 'node:net';

export interface TunnelOptions {
  /** --websocket-idle-timeout: no byte either way for this long closes the tunnel (0 = never). */
  idleTimeoutMs: number;
  /** The idle timeout closed it (for the log). */
  onIdle?: () => void;
}

/** The 101 head for the client: the app's status line and the fields to pass on. */
export function responseHead(status: number, statusText: string | undefined, headers: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${statusText ?? ''}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

export class Tunnel {
  private closed = false;

  constructor(
    private readonly client: net.Socket,
    private readonly upstream: net.Socket,
    private readonly options: TunnelOptions = { idleTimeoutMs: 0 },
  ) {}

  /** Starts the flow both ways: first what each side sent before the splice, then everything. */
  splice(fromApp: Buffer, fromClient: readonly Buffer[]): void {
    const { client, upstream } = this;
    client.on('error', () => this.close());
    upstream.on('error', () => this.close());
    client.once('close', () => this.close());
    upstream.once('close', () => this.close());
    // One timer for both directions: the client's socket carries the bytes of both, and reading
    // or writing either refreshes it.
    const { idleTimeoutMs, onIdle } = this.options;
    if (idleTimeoutMs > 0) {
      client.setTimeout(idleTimeoutMs);
      client.once('timeout', () => {
        if (this.closed) return;
        onIdle?.();
        this.close();
      });
    }
    if (fromApp.length > 0) client.write(fromApp);
    for (const chunk of fromClient) upstream.write(chunk);
    client.pipe(upstream);
    upstream.pipe(client);
    // One side's FIN: pipe() passes it on once the other side has what was still on its way, and
    // then both close. Half-open, a tunnel would live for ever: many apps (and clients) wait for
    // the other side to close first.
    client.once('end', () => this.closeOnceFlushed(upstream));
    upstream.once('end', () => this.closeOnceFlushed(client));
  }

  private closeOnceFlushed(socket: net.Socket): void {
    if (socket.writableFinished) this.close();
    else socket.once('finish', () => this.close());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
    this.upstream.destroy();
  }
}
