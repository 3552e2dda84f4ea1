// Protection from bad clients at the public front. Node's parser enforces the header size and
// both time limits (server options, below); this module adds the header count and body size
// limits and says which answer each refusal gets.

import type http from 'node:http';
import type { ClientLimits } from '../../lib/config.js';
import type { ErrorResponse } from './error-responses.js';

/**
 * How often Node looks for requests past their header or body deadline. Its default (30 s) would
 * let a slowloris connection live up to twice the timeout.
 */
const DEADLINE_CHECK_MS = 1_000;

/** The node:http server options that carry the limits. */
export function serverLimitOptions(limits: ClientLimits): http.ServerOptions {
  return {
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headerTimeoutMs,
    requestTimeout: limits.bodyTimeoutMs,
    connectionsCheckingInterval: DEADLINE_CHECK_MS,
    // The door refuses a request without Host itself, with a request id as every refusal has.
    requireHostHeader: false,
  };
}

/** The answer to a request Node's parser refused (the `clientError` event), by its error code. */
export function clientErrorAnswer(code: string | undefined, requestId: string): Omit<ErrorResponse, 'close'> {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'The request line and headers are larger than this server accepts.', requestId };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, reason: 'The request was not received in time.', requestId };
    default:
      return { status: 400, reason: 'The request is not valid HTTP.', requestId };
  }
}

/**
 * Header fields a request may have (Apache's default LimitRequestFields). node:http keeps only its
 * maxHeadersCount of them and drops the rest without a word, a Content-Length among them; Ferry
 * has it keep all (0: no count, --max-header-size still bounds them) and refuses more than this.
 */
export const MAX_HEADER_FIELDS = 100;

export function hasTooManyFields(rawHeaders: readonly string[]): boolean {
  return rawHeaders.length > 2 * MAX_HEADER_FIELDS;
}

export const TOO_MANY_FIELDS_REASON = `The request has more than the ${MAX_HEADER_FIELDS} header fields this server accepts.`;

/** The body's Content-Length announces more than the limit: refused before any process sees it. */
export function announcesTooLargeBody(req: Pick<http.IncomingMessage, 'headers'>, maxBodyBytes: number): boolean {
  if (maxBodyBytes === 0) return false;
  const length = req.headers['content-length'];
  // Node's parser has already refused a Content-Length that is not a number.
  return length !== undefined && Number(length) > maxBodyBytes;
}

export function bodyTooLargeRefusal(maxBodyBytes: number): Omit<ErrorResponse, 'requestId'> {
  return { status: 413, reason: `The request body is larger than the ${maxBodyBytes} bytes this server accepts.`, close: true };
}

export function bodyTooLargeAnswer(requestId: string, maxBodyBytes: number): ErrorResponse {
  return { ...bodyTooLargeRefusal(maxBodyBytes), requestId };
}

/** Thrown into the upstream request when a body without Content-Length grows past the limit. */
export class BodyTooLargeError extends Error {
  readonly code = 'FERRY_BODY_TOO_LARGE';
  constructor(readonly maxBodyBytes: number) {
    super(`request body larger than ${maxBodyBytes} bytes (max-body-size)`);
  }
}

export function isBodyTooLarge(err: unknown): err is BodyTooLargeError {
  return err instanceof BodyTooLargeError;
}

/**
 * The request body as it goes to the app. A body with Content-Length is the request itself (the
 * parser stops at its length, checked against the limit up front). A chunked one is counted as it
 * streams and cut at the limit. The generator starts only once the app's connection is made, so
 * a refused connection leaves the body unread and the request may still go to another process.
 */
export function limitedBody(req: http.IncomingMessage, maxBodyBytes: number): http.IncomingMessage | AsyncIterable<Buffer> {
  if (maxBodyBytes === 0 || req.headers['content-length'] !== undefined) return req;
  return (async function* countBody(): AsyncGenerator<Buffer> {
    let received = 0;
    // Stopping early must not destroy the request: the client still gets its 413 on that socket.
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > maxBodyBytes) throw new BodyTooLargeError(maxBodyBytes);
      yield chunk;
    }
  })();
}
