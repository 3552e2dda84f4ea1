import { describe, expect, it } from 'vitest';
import { ResponseHeadParser, type ResponseHeadResult } from '../../../../src/core/engine/response-head.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');

function parse(text: string, method = 'GET'): ResponseHeadResult {
  return new ResponseHeadParser().feed(bytes(text), method);
}

describe('ResponseHeadParser', () => {
  it('reads the status line, fields and framing', () => {
    const result = parse('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello');
    expect(result).toMatchObject({ kind: 'head', head: { version: '1.1', status: 200, reason: 'OK', body: { kind: 'length', length: 5 }, keepAlive: true } });
    expect((result as { rest: Buffer }).rest.toString()).toBe('hello');
  });

  it.each([
    ['chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET', 'chunked', true],
    ['until close without a length', 'HTTP/1.1 200 OK\r\n\r\n', 'GET', 'close', false],
    ['until close on HTTP/1.0', 'HTTP/1.0 200 OK\r\n\r\n', 'GET', 'close', false],
    ['no body for HEAD, whatever Content-Length says', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 'HEAD', 'none', true],
    ['no body for 204', 'HTTP/1.1 204 No Content\r\n\r\n', 'GET', 'none', true],
    ['no body for 304', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n', 'GET', 'none', true],
    ['Connection: close', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', 'GET', 'length', false],
    ['HTTP/1.0 keep-alive', 'HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n', 'GET', 'length', true],
  ])('frames %s', (_name, text, method, body, keepAlive) => {
    expect(parse(text, method)).toMatchObject({ kind: 'head', head: { body: { kind: body }, keepAlive } });
  });

  it('reports 1xx interim answers apart, then reads the final one', () => {
    const parser = new ResponseHeadParser();
    const first = parser.feed(bytes('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    expect(first).toMatchObject({ kind: 'interim', head: { status: 103, body: { kind: 'none' } } });
    expect(parser.feed((first as { rest: Buffer }).rest)).toMatchObject({ kind: 'head', head: { status: 200 } });
    expect(parse('HTTP/1.1 100 Continue\r\n\r\n')).toMatchObject({ kind: 'interim', head: { status: 100 } });
  });

  it('reports 101 and a 2xx to CONNECT as upgrades, with the tunnel bytes after them', () => {
    const result = parse('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x00');
    expect(result).toMatchObject({ kind: 'upgrade', head: { status: 101 } });
    expect((result as { rest: Buffer }).rest.length).toBe(2);
    expect(parse('HTTP/1.1 200 Connection Established\r\n\r\n', 'CONNECT')).toMatchObject({ kind: 'upgrade' });
  });

  it('takes a status line without a reason phrase', () => {
    expect(parse('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n')).toMatchObject({ kind: 'head', head: { status: 200, reason: '' } });
    expect(parse('HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n')).toMatchObject({ kind: 'head', head: { status: 200, reason: '' } });
  });

  it.each([
    ['Content-Length and Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['two Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n'],
    ['a Content-Length list', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n'],
    ['gzip, chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'],
    ['Transfer-Encoding on HTTP/1.0', 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['a bad framing field on a 204', 'HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked, x\r\n\r\n'],
    ['HTTP/2', 'HTTP/2 200 OK\r\n\r\n'],
    ['a two-digit status', 'HTTP/1.1 20 OK\r\n\r\n'],
    ['a status under 100', 'HTTP/1.1 099 OK\r\n\r\n'],
    ['a bare LF', 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n'],
    ['a space before a colon', 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n'],
    ['NUL in a value', 'HTTP/1.1 200 OK\r\nX: a\x00\r\nContent-Length: 0\r\n\r\n'],
    ['a control character in the reason', 'HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n'],
  ])('refuses %s with 502', (_name, text) => {
    expect(parse(text)).toMatchObject({ kind: 'refused', status: 502 });
  });

  it('gives the same result split at every byte boundary', () => {
    const input = bytes('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=b\r\n\r\n0\r\n\r\n');
    const summary = (r: ResponseHeadResult) => (r.kind === 'head' ? { status: r.head.status, fields: r.head.fields, raw: r.head.raw.toString() } : r);
    const whole = summary(new ResponseHeadParser().feed(input));
    for (let at = 1; at < input.length; at++) {
      const parser = new ResponseHeadParser();
      let result = parser.feed(input.subarray(0, at));
      if (result.kind === 'incomplete') result = parser.feed(input.subarray(at));
      expect(summary(result), `split at ${at}`).toEqual(whole);
    }
  });
});
