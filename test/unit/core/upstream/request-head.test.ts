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
    expect(writeRequestHead('PUT', '/', ['Host', 'a', 'content-length', '5'], -1)).toEqual({ text: 'PUT / HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\n\r\n', framing: 'length' });
  });

  it('frames a body without Content-Length: a Buffer by its length, a stream chunked', () => {
    expect(writeRequestHead('POST', '/', ['host', 'a'], 3)?.text).toBe('POST / HTTP/1.1\r\nhost: a\r\nContent-Length: 3\r\n\r\n');
    expect(writeRequestHead('POST', '/', ['Host', 'a'], -1)).toEqual({ text: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n', framing: 'chunked' });
  });

  it('says Content-Length: 0 for a POST, PUT or PATCH without a body, nothing for a GET', () => {
    expect(writeRequestHead('PATCH', '/', ['Host', 'a'], undefined)?.text).toBe('PATCH / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n');
    expect(writeRequestHead('DELETE', '/', ['Host', 'a'], undefined)?.text).toBe('DELETE / HTTP/1.1\r\nHost: a\r\n\r\n');
  });

  it('gives a request without Host (an HTTP/1.0 client may send none) the default one, as HTTP/1.1 requires', () => {
    expect(writeRequestHead('GET', '/', ['Accept', '*/*'], undefined)?.text).toBe('GET / HTTP/1.1\r\nAccept: */*\r\nHost: localhost\r\n\r\n');
    expect(writeRequestHead('GET', '/', [], undefined, '127.0.0.1:4000')?.text).toBe('GET / HTTP/1.1\r\nHost: 127.0.0.1:4000\r\n\r\n');
  });

  it('refuses CR, LF or NUL anywhere but at the line ends', () => {
    expect(writeRequestHead('GET', '/', ['X', 'a\nb'], undefined)).toBeUndefined();
    expect(writeRequestHead('GET', '/', ['X', 'a\rb'], undefined)).toBeUndefined();
    expect(writeRequestHead('GET', '/', ['X\r\nY', 'z'], undefined)).toBeUndefined();
    expect(writeRequestHead('GET', '/', ['X', 'a\0b'], undefined)).toBeUndefined();
    expect(writeRequestHead('GET', '/\r\nX: y', [], undefined)).toBeUndefined();
  });
});
