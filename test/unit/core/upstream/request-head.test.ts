import { describe, expect, it } from 'vitest';
import { writeRequestHead } from '../../../../src/core/upstream/request-head.js';

describe('writeRequestHead', () => {
  it('writes the request line, the fields in order and the end of the head', () => {
    expect(writeRequestHead('GET', '/a?b=1', ['Host', 'app', 'Accept', '*/*', 'Accept', 'text/html'], undefined)).toEqual({
      text: 'GET /a?b=1 HTTP/1.1\r\nHost: app\r\nAccept: */*\r\nAccept: text/html\r\n\r\n',
      framing: 'none',
    });
  });

  it("passes the caller's Content-Length through and adds no framing of its own", () => {
    expect(writeRequestHead('PUT', '/', ['content-length', '5'], -1)).toEqual({ text: 'PUT / HTTP/1.1\r\ncontent-length: 5\r\n\r\n', framing: 'length' });
  });

  it('frames a body without Content-Length: a Buffer by its length, a stream chunked', () => {
    expect(writeRequestHead('POST', '/', [], 3)?.text).toBe('POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n');
    expect(writeRequestHead('POST', '/', [], -1)).toEqual({ text: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n', framing: 'chunked' });
  });

  it('says Content-Length: 0 for a POST, PUT or PATCH without a body, nothing for a GET', () => {
    expect(writeRequestHead('PATCH', '/', [], undefined)?.text).toBe('PATCH / HTTP/1.1\r\nContent-Length: 0\r\n\r\n');
    expect(writeRequestHead('DELETE', '/', [], undefined)?.text).toBe('DELETE / HTTP/1.1\r\n\r\n');
  });

  it('refuses CR, LF or NUL anywhere but at the line ends', () => {
    expect(writeRequestHead('GET', '/', ['X', 'a\nb'], undefined)).toBeUndefined();
    expect(writeRequestHead('GET', '/', ['X', 'a\rb'], undefined)).toBeUndefined();
    expect(writeRequestHead('GET', '/', ['X\r\nY', 'z'], undefined)).toBeUndefined();
    expect(writeRequestHead('GET', '/', ['X', 'a\0b'], undefined)).toBeUndefined();
    expect(writeRequestHead('GET', '/\r\nX: y', [], undefined)).toBeUndefined();
  });
});
