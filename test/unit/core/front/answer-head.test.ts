// The answer head's framing and connection decisions (pure), one rule per case.

import { describe, expect, it } from 'vitest';
import { settleAnswerHead, startAnswerHead, type AnswerHead } from '../../../../src/core/front/answer-head.js';

function head(status: number, fields: string[], opts: { version?: '1.0' | '1.1'; headRequest?: boolean; knownLength?: number; close?: boolean } = {}): AnswerHead {
  const version = opts.version ?? '1.1';
  const h = startAnswerHead(status, 'R', fields, { version, headRequest: opts.headRequest ?? false });
  settleAnswerHead(h, version, opts.knownLength ?? -1, opts.close ?? false);
  return h;
}

describe('answer heads', () => {
  it("keeps the handler's Content-Length, and adds one when the whole body is known as the head goes out", () => {
    expect(head(200, ['Content-Length', '5'])).toMatchObject({ framing: 'length', length: 5, text: 'HTTP/1.1 200 R\r\nContent-Length: 5\r\n\r\n' });
    expect(head(200, [], { knownLength: 3 })).toMatchObject({ framing: 'length', length: 3, text: 'HTTP/1.1 200 R\r\nContent-Length: 3\r\n\r\n' });
  });

  it('chunks an answer of unknown length to HTTP/1.1, and ends it with the connection for HTTP/1.0', () => {
    expect(head(200, [])).toMatchObject({ framing: 'chunked', close: false, text: 'HTTP/1.1 200 R\r\nTransfer-Encoding: chunked\r\n\r\n' });
    expect(head(200, [], { version: '1.0' })).toMatchObject({ framing: 'close', close: true, text: 'HTTP/1.1 200 R\r\nConnection: close\r\n\r\n' });
    // A chunked answer passed through cannot reach an HTTP/1.0 client as chunks.
    expect(head(200, ['Transfer-Encoding', 'chunked'], { version: '1.0' })).toMatchObject({ framing: 'close', text: 'HTTP/1.1 200 R\r\nConnection: close\r\n\r\n' });
  });

  it('has no body for HEAD, 204 and 304, and keeps the fields as given', () => {
    expect(head(200, ['Content-Length', '11'], { headRequest: true })).toMatchObject({ framing: 'none', text: 'HTTP/1.1 200 R\r\nContent-Length: 11\r\n\r\n' });
    expect(head(304, [], { knownLength: 0 }).framing).toBe('none');
    expect(head(204, []).text).toBe('HTTP/1.1 204 R\r\n\r\n');
  });

  it('says keep-alive to an HTTP/1.0 client kept alive, and close when closing', () => {
    expect(head(200, ['Content-Length', '0'], { version: '1.0' }).text).toContain('Connection: keep-alive\r\n');
    expect(head(200, ['Content-Length', '0'], { close: true })).toMatchObject({ close: true, text: 'HTTP/1.1 200 R\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' });
  });

  it('refuses what a handler must never send: split lines, framing it cannot keep, the front\'s own fields', () => {
    const bad: [number, string[]][] = [
      [200, ['X', 'a\r\nSet-Cookie: x']],
      [200, ['Bad Name', 'x']],
      [200, ['Content-Length', '1', 'Content-Length', '1']],
      [200, ['Content-Length', '-1']],
      [200, ['Content-Length', '1', 'Transfer-Encoding', 'chunked']],
      [200, ['Transfer-Encoding', 'gzip']],
      [200, ['Connection', 'close']],
      [200, ['Keep-Alive', 'timeout=5']],
      [200, ['odd']],
      [100, []],
      [600, []],
    ];
    for (const [status, fields] of bad) expect(() => startAnswerHead(status, 'R', fields, { version: '1.1', headRequest: false }), JSON.stringify(fields)).toThrow(TypeError);
    expect(() => startAnswerHead(200, 'O\r\nK', [], { version: '1.1', headRequest: false })).toThrow(TypeError);
  });
});
