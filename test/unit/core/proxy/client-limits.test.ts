import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { announcesTooLargeBody, hasTooManyFields, MAX_HEADER_FIELDS } from '../../../../src/core/proxy/client-limits.js';

/** A request with these headers, as the door reads it. */
function fakeRequest(headers: IncomingHttpHeaders): { headers: IncomingHttpHeaders } {
  return { headers };
}

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
