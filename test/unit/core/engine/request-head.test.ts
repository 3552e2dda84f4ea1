import { describe, expect, it } from 'vitest';
import { RequestHeadParser, type RequestHeadResult } from '../../../../src/core/engine/request-head.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');

describe('RequestHeadParser', () => {
  it('parses a head in place: fields in order with raw line offsets, and the bytes after it', () => {
    const input = bytes('GET /p?q HTTP/1.1\r\nHost: a\r\nX-Two:  b c \r\nx-two: d\r\n\r\nBODY');
    const result = new RequestHeadParser().feed(input);
    expect(result.kind).toBe('head');
    const { head, rest } = result as Extract<RequestHeadResult, { kind: 'head' }>;
    expect({ method: head.method, target: head.target, version: head.version }).toEqual({ method: 'GET', target: '/p?q', version: '1.1' });
    expect(head.fields.map(({ name, lower, value }) => [name, lower, value])).toEqual([
      ['Host', 'host', 'a'],
      ['X-Two', 'x-two', 'b c'],
      ['x-two', 'x-two', 'd'],
    ]);
    expect(head.fields.map((f) => head.raw.toString('latin1', f.start, f.end))).toEqual(['Host: a\r\n', 'X-Two:  b c \r\n', 'x-two: d\r\n']);
    expect(head.raw.buffer).toBe(input.buffer);
    expect(head.raw.toString()).toBe('GET /p?q HTTP/1.1\r\nHost: a\r\nX-Two:  b c \r\nx-two: d\r\n\r\n');
    expect(rest.toString()).toBe('BODY');
  });

  it('is ready for the next head right after one', () => {
    const parser = new RequestHeadParser();
    const first = parser.feed(bytes('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n'));
    const second = parser.feed((first as { rest: Buffer }).rest);
    expect(second).toMatchObject({ kind: 'head', head: { target: '/2' } });
    expect((second as { rest: Buffer }).rest.length).toBe(0);
  });

  it('keeps field offsets right when the head arrives in pieces', () => {
    const input = bytes('\r\nPOST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok');
    for (let at = 1; at < input.length; at++) {
      const parser = new RequestHeadParser();
      let result = parser.feed(input.subarray(0, at));
      if (result.kind === 'incomplete') result = parser.feed(input.subarray(at));
      const { head, rest } = result as Extract<RequestHeadResult, { kind: 'head' }>;
      expect(head.fields.map((f) => head.raw.toString('latin1', f.start, f.end)), `split at ${at}`).toEqual(['Host: a\r\n', 'Content-Length: 2\r\n']);
      expect(Buffer.concat([head.raw, rest]).toString(), `split at ${at}`).toBe(input.subarray(2).toString().slice(0, head.raw.length + rest.length));
    }
  });

  it('tells a long request line (414) from a large head or too many fields (431)', () => {
    const parser = () => new RequestHeadParser({ maxStartLineBytes: 64, maxHeadBytes: 128, maxFields: 3 });
    expect(parser().feed(bytes(`GET /${'a'.repeat(64)}`))).toMatchObject({ kind: 'refused', status: 414 });
    expect(parser().feed(bytes(`GET / HTTP/1.1\r\nX: ${'a'.repeat(120)}`))).toMatchObject({ kind: 'refused', status: 431 });
    expect(parser().feed(bytes('GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n'))).toMatchObject({ kind: 'refused', status: 431 });
    expect(parser().feed(bytes('GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n'))).toMatchObject({ kind: 'head' });
  });

  it('refuses a head that never ends once it passes the limit, dribbled byte by byte', () => {
    const parser = new RequestHeadParser({ maxHeadBytes: 256 });
    let result = parser.feed(bytes('GET / HTTP/1.1\r\n'));
    for (let i = 0; i < 300 && result.kind === 'incomplete'; i++) result = parser.feed(bytes('x'));
    expect(result).toMatchObject({ kind: 'refused', status: 431 });
  });

  it('answers 501 to a method token Node does not know, 400 to one that is no token', () => {
    expect(new RequestHeadParser().feed(bytes('BREW / HTTP/1.1\r\nHost: a\r\n\r\n'))).toMatchObject({ kind: 'refused', status: 501 });
    expect(new RequestHeadParser().feed(bytes('get / HTTP/1.1\r\nHost: a\r\n\r\n'))).toMatchObject({ kind: 'refused', status: 501 });
    expect(new RequestHeadParser().feed(bytes('GE[T / HTTP/1.1\r\nHost: a\r\n\r\n'))).toMatchObject({ kind: 'refused', status: 400 });
  });

  it('stays refused once refused', () => {
    const parser = new RequestHeadParser();
    expect(parser.feed(bytes('GET / HTTP/1.1\n'))).toMatchObject({ kind: 'refused', status: 400 });
    expect(parser.feed(bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\n'))).toMatchObject({ kind: 'refused', status: 400 });
  });
});
