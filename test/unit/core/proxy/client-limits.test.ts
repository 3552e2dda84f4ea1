import type http from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { announcesTooLargeBody, BodyTooLargeError, clientErrorAnswer, hasTooManyFields, limitedBody, MAX_HEADER_FIELDS, serverLimitOptions } from '../../../../src/core/proxy/client-limits.js';
import { rawErrorResponse } from '../../../../src/core/proxy/error-responses.js';

/** A request with these headers and this body, as node:http hands it over. */
function fakeRequest(headers: http.IncomingHttpHeaders, chunks: string[] = []): http.IncomingMessage {
  return Object.assign(Readable.from(chunks.map((c) => Buffer.from(c))), { headers }) as unknown as http.IncomingMessage;
}

async function drain(body: AsyncIterable<Buffer>): Promise<string> {
  let text = '';
  for await (const chunk of body) text += chunk.toString();
  return text;
}

describe('serverLimitOptions', () => {
  it("hands the limits to node:http, checks deadlines every second rather than Node's 30, and leaves a missing Host to the door", () => {
    expect(serverLimitOptions({ maxHeaderBytes: 8192, headerTimeoutMs: 5000, bodyTimeoutMs: 60_000, maxBodyBytes: 1024 })).toEqual({
      maxHeaderSize: 8192,
      headersTimeout: 5000,
      requestTimeout: 60_000,
      connectionsCheckingInterval: 1000,
      requireHostHeader: false,
    });
  });
});

describe('clientErrorAnswer', () => {
  it('answers 431 for headers too large, 408 for a slow request and 400 for anything malformed', () => {
    expect(clientErrorAnswer('HPE_HEADER_OVERFLOW', 'r1')).toMatchObject({ status: 431, requestId: 'r1' });
    expect(clientErrorAnswer('ERR_HTTP_REQUEST_TIMEOUT', 'r2')).toMatchObject({ status: 408 });
    expect(clientErrorAnswer('HPE_INVALID_METHOD', 'r3')).toMatchObject({ status: 400 });
    expect(clientErrorAnswer(undefined, 'r4')).toMatchObject({ status: 400 });
  });

  it('is sent as a complete response with the request id, and closes the connection', () => {
    const raw = rawErrorResponse({ ...clientErrorAnswer('HPE_HEADER_OVERFLOW', 'abc-1'), retryAfterS: 2 });
    const [head, body] = raw.split('\r\n\r\n') as [string, string];
    expect(head.split('\r\n')).toEqual([
      'HTTP/1.1 431 Request Header Fields Too Large',
      'Content-Type: text/plain; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Cache-Control: no-store',
      'X-Request-Id: abc-1',
      'Retry-After: 2',
      'Connection: close',
    ]);
    expect(body).toBe('431 Request Header Fields Too Large\n\nThe request line and headers are larger than this server accepts.\nRequest id: abc-1\n');
  });
});

describe('hasTooManyFields', () => {
  const fields = (n: number): string[] => Array.from({ length: n }, (_, i) => [`X-${i}`, String(i)]).flat();

  it(`takes up to ${MAX_HEADER_FIELDS} header fields and refuses one more`, () => {
    expect(MAX_HEADER_FIELDS).toBe(100);
    expect(hasTooManyFields(fields(100))).toBe(false);
    expect(hasTooManyFields(fields(101))).toBe(true);
    expect(hasTooManyFields([])).toBe(false);
  });
});

describe('announcesTooLargeBody', () => {
  it('compares Content-Length with the limit, 0 meaning none', () => {
    expect(announcesTooLargeBody(fakeRequest({ 'content-length': '1025' }), 1024)).toBe(true);
    expect(announcesTooLargeBody(fakeRequest({ 'content-length': '1024' }), 1024)).toBe(false);
    expect(announcesTooLargeBody(fakeRequest({ 'transfer-encoding': 'chunked' }), 1024)).toBe(false);
    expect(announcesTooLargeBody(fakeRequest({ 'content-length': '99999999999' }), 0)).toBe(false);
  });
});

describe('limitedBody', () => {
  it('passes a body with Content-Length, or any body without a limit, as the request itself', () => {
    const withLength = fakeRequest({ 'content-length': '3' }, ['abc']);
    expect(limitedBody(withLength, 2)).toBe(withLength);
    const unlimited = fakeRequest({ 'transfer-encoding': 'chunked' }, ['abc']);
    expect(limitedBody(unlimited, 0)).toBe(unlimited);
  });

  it('streams a chunked body up to the limit', async () => {
    const req = fakeRequest({ 'transfer-encoding': 'chunked' }, ['ab', 'cd', 'ef']);
    expect(await drain(limitedBody(req, 6) as AsyncIterable<Buffer>)).toBe('abcdef');
  });

  it('cuts a chunked body that grows past the limit, without destroying the request', async () => {
    const req = fakeRequest({ 'transfer-encoding': 'chunked' }, ['ab', 'cd', 'ef']);
    await expect(drain(limitedBody(req, 5) as AsyncIterable<Buffer>)).rejects.toBeInstanceOf(BodyTooLargeError);
    expect(req.destroyed).toBe(false);
  });

  it('reads nothing until the body is asked for (a refused connection may still retry elsewhere)', () => {
    const req = fakeRequest({ 'transfer-encoding': 'chunked' }, ['ab']);
    limitedBody(req, 5);
    expect(req.readableDidRead).toBe(false);
  });
});
