// The answers Ferry gives itself, written through the exchange: error answers (error-responses.ts
// says what they hold), the spawn error page, the health check, `OPTIONS *`, and a turbocache hit
// as one ready buffer (one write, one syscall).

import type { Exchange } from '../../front/exchange.js';
import type { CacheHit } from '../../turbocache/cache-front.js';
import { hitContentLength, type CacheEntry } from '../../turbocache/turbocache.js';
import { writeLatin1 } from '../../engine/syntax.js';
import { errorAnswerParts, spawnErrorPageBody, type ErrorResponse, type SpawnFacts } from '../error-responses.js';
import type { HealthVerdict } from '../health-check.js';
import { SERVER_OPTIONS_ALLOW } from '../request-door.js';

/** An answer can still be given: nothing of one has been written yet. */
export function canAnswer(exchange: Exchange): boolean {
  return exchange.answer === 'unanswered' || exchange.answer === 'continued';
}

/** An error answer; an answer already under way is cut instead (the client must see it broken). */
export function writeError(exchange: Exchange, error: ErrorResponse): void {
  if (!canAnswer(exchange)) {
    exchange.destroy();
    return;
  }
  const { reason, fields, body } = errorAnswerParts(error);
  exchange.writeHead(error.status, reason, fields, { close: error.close === true });
  exchange.end(Buffer.from(body, 'utf8'));
}

export function writeSpawnErrorPage(exchange: Exchange, facts: SpawnFacts, requestId: string, retryAfterS: number, showDetails: boolean): void {
  if (!canAnswer(exchange)) {
    exchange.destroy();
    return;
  }
  const body = spawnErrorPageBody(facts, requestId, showDetails);
  exchange.writeHead(503, 'Service Unavailable', ['Content-Type', 'text/html; charset=utf-8', 'Cache-Control', 'no-store', 'Retry-After', String(retryAfterS), 'X-Request-Id', requestId]);
  exchange.end(Buffer.from(body, 'utf8'));
}

export function writeHealth(exchange: Exchange, verdict: HealthVerdict): void {
  exchange.writeHead(verdict.httpStatus, verdict.httpStatus === 200 ? 'OK' : 'Service Unavailable', ['Content-Type', 'application/json', 'Cache-Control', 'no-store']);
  exchange.end(Buffer.from(JSON.stringify(verdict.body), 'utf8'));
}

export function writeServerOptions(exchange: Exchange): void {
  exchange.writeHead(200, 'OK', ['Allow', SERVER_OPTIONS_ALLOW, 'Content-Length', '0']);
  exchange.end();
}

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 203: 'Non-Authoritative Information', 204: 'No Content', 300: 'Multiple Choices', 301: 'Moved Permanently', 304: 'Not Modified', 308: 'Permanent Redirect', 404: 'Not Found', 410: 'Gone' };

/**
 * A cache hit as one buffer: status line, the stored fields (Content-Length and Age already
 * among them), the connection field the front would write, and the body. Stored fields came from
 * the app through the engine's parser, so they are valid field lines. A full hit copies the
 * entry's head, rendered on its first hit, and writes only Age (and X-Ferry-Cache) after it.
 */
export function cacheHitBytes(hit: CacheHit, version: '1.0' | '1.1', close: boolean): Buffer {
  const connection = close ? 'Connection: close\r\n' : version === '1.0' ? 'Connection: keep-alive\r\n' : '';
  const { stored, body } = hit;
  if (stored !== undefined) {
    const head = (stored.entry.wireHead ??= storedHead(stored.entry));
    const tail = `Age: ${stored.ageS}\r\n${stored.mark !== undefined ? `X-Ferry-Cache: ${stored.mark}\r\n` : ''}${connection}\r\n`;
    const out = Buffer.allocUnsafe(head.length + tail.length + (body?.length ?? 0));
    head.copy(out, 0);
    writeLatin1(out, tail, head.length);
    body?.copy(out, head.length + tail.length);
    return out;
  }
  const text = `${statusLine(hit.status, hit.statusText)}${fieldLines(hit.headers)}${connection}\r\n`;
  const headLength = Buffer.byteLength(text, 'latin1');
  const out = Buffer.allocUnsafe(headLength + (body?.length ?? 0));
  out.write(text, 0, 'latin1');
  body?.copy(out, headLength);
  return out;
}

function statusLine(status: number, statusText: string | undefined): string {
  return `HTTP/1.1 ${status} ${statusText ?? STATUS_TEXT[status] ?? ''}\r\n`;
}

/** Flat [name, value, ...] as field lines. */
function fieldLines(headers: readonly string[]): string {
  let text = '';
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i] as string}: ${headers[i + 1] as string}\r\n`;
  return text;
}

/** An entry's status line, stored fields and Content-Length (none for a 204), as they go on the wire. */
function storedHead(entry: CacheEntry): Buffer {
  const length = hitContentLength(entry);
  return Buffer.from(`${statusLine(entry.status, entry.statusText)}${fieldLines(entry.headers)}${length === undefined ? '' : `Content-Length: ${length}\r\n`}`, 'latin1');
}
