// The front's own refusal answer (front/refusal.ts), byte for byte: what a client gets for a
// request the front will not take.

import { describe, expect, it } from 'vitest';
import { refusalBytes } from '../../../../src/core/front/refusal.js';

describe('refusalBytes', () => {
  it('is a complete response with the request id in a header and the body, and closes the connection', () => {
    const raw = refusalBytes(431, 'The request line and headers are larger than this server accepts.', 'abc-1').toString('utf8');
    const [head, body] = raw.split('\r\n\r\n') as [string, string];
    expect(head.split('\r\n')).toEqual([
      'HTTP/1.1 431 Request Header Fields Too Large',
      'Content-Type: text/plain; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Cache-Control: no-store',
      'X-Request-Id: abc-1',
      'Connection: close',
    ]);
    expect(body).toBe('431 Request Header Fields Too Large\n\nThe request line and headers are larger than this server accepts.\nRequest id: abc-1\n');
  });

  it('counts the body in bytes, not characters, and falls back to Bad Request for a status it has no phrase for', () => {
    const raw = refusalBytes(499, 'café', 'r');
    const text = raw.toString('utf8');
    expect(text.startsWith('HTTP/1.1 499 Bad Request\r\n')).toBe(true);
    const body = raw.subarray(raw.indexOf('\r\n\r\n') + 4);
    expect(text).toContain(`Content-Length: ${body.length}\r\n`);
    expect(body.length).toBeGreaterThan(body.toString('utf8').length);
  });
});
