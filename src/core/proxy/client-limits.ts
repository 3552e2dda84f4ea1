// Protection from bad clients at the public front. The front (src/core/front) enforces the header
// size and both time limits as it reads; this module has the header count and body size limits
// the door checks (request-door.ts), and the answers they get.

import type { IncomingHttpHeaders } from 'node:http';
import type { ErrorResponse } from './error-responses.js';

/**
 * Header fields a request may have (Apache's default LimitRequestFields); --max-header-size bounds
 * their bytes, this their count.
 */
export const MAX_HEADER_FIELDS = 100;

export function hasTooManyFields(rawHeaders: readonly string[]): boolean {
  return rawHeaders.length > 2 * MAX_HEADER_FIELDS;
}

export const TOO_MANY_FIELDS_REASON = `The request has more than the ${MAX_HEADER_FIELDS} header fields this server accepts.`;

/** The body's Content-Length announces more than the limit: refused before any process sees it. */
export function announcesTooLargeBody(req: { headers: IncomingHttpHeaders }, maxBodyBytes: number): boolean {
  if (maxBodyBytes === 0) return false;
  const length = req.headers['content-length'];
  // The front's parser has already refused a Content-Length that is not a number.
  return length !== undefined && Number(length) > maxBodyBytes;
}

export function bodyTooLargeRefusal(maxBodyBytes: number): Omit<ErrorResponse, 'requestId'> {
  return { status: 413, reason: `The request body is larger than the ${maxBodyBytes} bytes this server accepts.`, close: true };
}
