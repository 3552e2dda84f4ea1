import { describe, expect, it } from 'vitest';
import { RequestHeadParser, type RequestHead } from '../../../../src/core/engine/request-head.js';
import { ResponseHeadParser, type ResponseHead } from '../../../../src/core/engine/response-head.js';
import { serializeRequestHead, serializeResponseHead } from '../../../../src/core/engine/serialize.js';

function requestHead(text: string): RequestHead {
  const result = new RequestHeadParser().feed(Buffer.from(text, 'latin1'));
  if (result.kind !== 'head') throw new Error(`not a head: ${JSON.stringify(result)}`);
  return result.head;
}

function responseHead(text: string, method = 'GET'): ResponseHead {
  const result = new ResponseHeadParser().feed(Buffer.from(text, 'latin1'), method);
  if (result.kind === 'refused' || result.kind === 'incomplete') throw new Error(`not a head: ${JSON.stringify(result)}`);
  return result.head;
}

describe('serializeRequestHead', () => {
  it('writes HTTP/1.1, origin-form, canonical Host, kept lines as sent, canonical framing, then the edits', () => {
    const head = requestHead(
      'POST http://Example.COM:80/p?q HTTP/1.0\r\nHost: other\r\nX-Keep:  as  sent \r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nContent-Length:  3\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n',
    );
    const out = serializeRequestHead(head, { remove: new Set(['x-forwarded-for']), add: [['X-Forwarded-For', '1.2.3.4, 10.0.0.1'], ['X-Request-Id', 'r1']] });
    expect(out.toString('latin1')).toBe(
      'POST /p?q HTTP/1.1\r\nHost: example.com\r\nX-Keep:  as  sent \r\nContent-Length: 3\r\nX-Forwarded-For: 1.2.3.4, 10.0.0.1\r\nX-Request-Id: r1\r\n\r\n',
    );
  });

  it('writes Transfer-Encoding: chunked for a chunked body, whatever the case and spacing it came in', () => {
    const head = requestHead('PUT / HTTP/1.1\r\nHost: a\r\ntransfer-encoding:\tCHUNKED \r\n\r\n');
    expect(serializeRequestHead(head).toString()).toBe('PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n');
  });

  it('never lets Connection remove Cookie, Authorization or Host (issue 16)', () => {
    const head = requestHead('GET / HTTP/1.1\r\nHost: a\r\nCookie: s=1\r\nAuthorization: Basic x\r\nConnection: Cookie, Authorization, Host, Content-Length\r\n\r\n');
    expect(serializeRequestHead(head).toString()).toBe('GET / HTTP/1.1\r\nHost: a\r\nCookie: s=1\r\nAuthorization: Basic x\r\n\r\n');
  });

  it('keeps Upgrade for a forwarded upgrade request, drops it otherwise', () => {
    const head = requestHead('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n');
    expect(serializeRequestHead(head, { upgrade: true }).toString()).toBe('GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nConnection: upgrade\r\n\r\n');
    expect(serializeRequestHead(head).toString()).toBe('GET /ws HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: k\r\n\r\n');
  });

  it('refuses an edit that would inject a line', () => {
    const head = requestHead('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(() => serializeRequestHead(head, { add: [['X', 'a\r\nEvil: 1']] })).toThrow(TypeError);
    expect(() => serializeRequestHead(head, { add: [['X Y', 'a']] })).toThrow(TypeError);
  });
});

describe('serializeResponseHead', () => {
  it('writes the status line, end-to-end fields as sent and the framing', () => {
    const head = responseHead('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive, X-Internal\r\nX-Internal: 1\r\nSet-Cookie: a=b\r\n\r\n');
    expect(serializeResponseHead(head, { add: [['X-Ferry-Cache', 'miss']] }).toString()).toBe('HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\nContent-Length: 5\r\nX-Ferry-Cache: miss\r\n\r\n');
  });

  it("keeps a HEAD or 304 answer's Content-Length as sent: it is the representation's", () => {
    expect(serializeResponseHead(responseHead('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n', 'HEAD')).toString()).toBe('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n');
    expect(serializeResponseHead(responseHead('HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n')).toString()).toBe('HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n');
  });

  it('says Connection: close for a close-delimited answer or when asked, and takes another framing', () => {
    expect(serializeResponseHead(responseHead('HTTP/1.0 200 OK\r\n\r\n')).toString()).toBe('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n');
    const chunked = responseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    expect(serializeResponseHead(chunked, { body: { kind: 'length', length: 7 }, close: true }).toString()).toBe('HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\n');
  });

  it('relays a 101 with its Upgrade', () => {
    const head = responseHead('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n');
    expect(serializeResponseHead(head, { upgrade: true }).toString()).toBe('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\nConnection: upgrade\r\n\r\n');
  });
});
