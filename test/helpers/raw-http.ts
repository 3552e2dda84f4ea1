// Raw TCP clients for tests that send what no HTTP library would: garbage, oversized or truncated
// requests, headers dribbled out slowly. Each exchange ends when the server closes or a deadline
// passes, and always destroys its socket.

import net from 'node:net';
import { expect } from 'vitest';

export interface RawExchange {
  /** Everything the server sent, as latin1. */
  received: string;
  /** Milliseconds from connect until the server closed (or the deadline, when timedOut). */
  elapsedMs: number;
  /** The deadline passed with the connection still open. */
  timedOut: boolean;
  /** A socket error (ECONNRESET, EPIPE), if one happened. */
  errorCode?: string;
}

/**
 * Connects (to a port on 127.0.0.1, or a unix socket path), runs `talk` (which writes whatever it
 * likes, and may keep writing), and collects what the server answers until it closes the
 * connection or `timeoutMs` passes.
 */
export function rawExchange(to: number | string, talk: (socket: net.Socket) => void, timeoutMs = 10_000): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = typeof to === 'string' ? net.connect(to) : net.connect(to, '127.0.0.1');
    const startedMs = Date.now();
    const chunks: Buffer[] = [];
    let errorCode: string | undefined;
    let settled = false;
    const finish = (timedOut: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks).toString('latin1'), elapsedMs: Date.now() - startedMs, timedOut, ...(errorCode ? { errorCode } : {}) });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on('data', (data: Buffer) => chunks.push(data));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      errorCode ??= err.code;
    });
    socket.on('close', () => finish(false));
    socket.once('connect', () => talk(socket));
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The first response in `text` (headers lowercased); undefined if there is none. */
export function parseRawResponse(text: string): RawResponse | undefined {
  // 1xx answers (100 Continue) come before the real one.
  const withoutInterim = text.replace(/^(HTTP\/1\.1 1\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/, '');
  const end = withoutInterim.indexOf('\r\n\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(withoutInterim);
  if (end < 0 || !match) return undefined;
  const headers: Record<string, string> = {};
  for (const line of withoutInterim.slice(0, end).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(match[1]), headers, body: withoutInterim.slice(end + 4) };
}

/**
 * A chunked upload of `chunks` chunks of 64 KiB, each sent once the previous one is on its way,
 * that stops as soon as the server answers (as a real client does: one that kept sending into a
 * closed connection would get a reset instead of the answer).
 */
export function chunkedUploadUntilAnswered(port: number, target: string, chunks: number): Promise<RawExchange> {
  const chunk = `${(64 * 1024).toString(16)}\r\n${'y'.repeat(64 * 1024)}\r\n`;
  return rawExchange(port, (s) => {
    s.write(`POST ${target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
    let sent = 0;
    let answered = false;
    s.on('data', () => (answered = true));
    const next = (): void => {
      if (answered || !s.writable) return;
      if (sent++ === chunks) {
        s.write('0\r\n\r\n');
        return;
      }
      s.write(chunk, () => setImmediate(next));
    };
    next();
  });
}

/** A refusal by Ferry: the status, a request id in the header that the body repeats, and the connection closed. */
export function expectRefusal(response: RawResponse | undefined, status: number): void {
  expect(response?.status).toBe(status);
  const id = response?.headers['x-request-id'];
  expect(id).toMatch(/^[\w.:-]+$/);
  expect(response?.body).toContain(`Request id: ${id}`);
  expect(response?.headers.connection).toBe('close');
}

/**
 * Every complete response in `text`, in order, for pipelined requests on one connection. Bodies
 * are framed by Content-Length (absent: none, as for 304 and HEAD answers; pass the methods so a
 * HEAD answer's Content-Length is not taken for a body).
 */
export function parseRawResponses(text: string, methods: readonly string[] = []): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = text;
  for (;;) {
    const first = parseRawResponse(rest);
    if (!first) return responses;
    const bodyless = methods[responses.length] === 'HEAD' || first.status === 304 || first.status === 204;
    const length = bodyless ? 0 : Number(first.headers['content-length'] ?? 0);
    if (first.body.length < length) return responses;
    responses.push({ ...first, body: first.body.slice(0, length) });
    rest = first.body.slice(length);
  }
}
