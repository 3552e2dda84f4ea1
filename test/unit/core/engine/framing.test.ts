import { describe, expect, it } from 'vitest';
import { decideRequestFraming, parseContentLength, type HttpVersion } from '../../../../src/core/engine/framing.js';
import { parseFieldLine, type HeaderField } from '../../../../src/core/engine/syntax.js';

/** Field lines as the head parser would give them, with the raw bytes they point into. */
function fieldsOf(lines: string[]): { fields: HeaderField[]; raw: Buffer } {
  const raw = Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1');
  const fields: HeaderField[] = [];
  let at = 0;
  for (const line of lines) {
    fields.push(parseFieldLine(raw, at, at + line.length, 0) as HeaderField);
    at += line.length + 2;
  }
  return { fields, raw };
}

function decide(line: Partial<{ method: string; target: string; version: HttpVersion }>, lines: string[]) {
  const { fields, raw } = fieldsOf(lines);
  const full = { method: "GET", target: "/", version: "1.1" as const, ...line };
  return decideRequestFraming(full.method, full.target, full.version, fields, raw, "http");
}

describe('decideRequestFraming', () => {
  it('reads the body framing', () => {
    expect(decide({}, ['Host: a'])).toMatchObject({ body: { kind: 'none' } });
    expect(decide({}, ['Host: a', 'Content-Length: 0'])).toMatchObject({ body: { kind: 'length', length: 0 } });
    expect(decide({}, ['Host: a', 'Content-Length: 12'])).toMatchObject({ body: { kind: 'length', length: 12 } });
    expect(decide({}, ['Host: a', 'Transfer-Encoding: Chunked'])).toMatchObject({ body: { kind: 'chunked' } });
  });

  it.each([
    [['Host: a', 'Transfer-Encoding: chunked', 'Content-Length: 1']],
    [['Host: a', 'Transfer-Encoding: gzip, chunked']],
    [['Host: a', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked']],
    [['Host: a', 'Content-Length: 1', 'Content-Length: 1']],
    [['Host: a', 'Content-Length: 1,1']],
    [['Host: a', 'Content-Length: 1\t']],
    [['Host: a', 'Transfer-Encoding: chunked\t']],
    [['Host: a', 'Host: a']],
    [[]],
    [['Host: a/b']],
  ])('refuses %j with 400', (lines) => {
    expect(decide({}, lines)).toMatchObject({ kind: 'refused', status: 400 });
  });

  it('refuses Transfer-Encoding on HTTP/1.0, and takes one without Host', () => {
    expect(decide({ version: '1.0' }, ['Transfer-Encoding: chunked'])).toMatchObject({ kind: 'refused', status: 400 });
    expect(decide({ version: '1.0' }, [])).toMatchObject({ authority: undefined, keepAlive: false });
  });

  it('turns an absolute-form target into origin-form, its authority winning over Host (RFC 9112 §3.2.2)', () => {
    expect(decide({ target: 'HTTP://Example.com:80' }, ['Host: other'])).toMatchObject({ targetForm: 'absolute', path: '/', authority: { text: 'example.com' } });
    expect(decide({ target: 'https://a:8443?q=1' }, ['Host: other'])).toMatchObject({ path: '/?q=1', authority: { text: 'a:8443' } });
    expect(decide({ target: 'http://a/p/q?r' }, ['Host: other'])).toMatchObject({ path: '/p/q?r', authority: { text: 'a' } });
  });

  it('keeps the other target forms', () => {
    expect(decide({ method: 'OPTIONS', target: '*' }, ['Host: a'])).toMatchObject({ targetForm: 'asterisk', path: '*' });
    expect(decide({ method: 'CONNECT', target: 'b:443' }, ['Host: a'])).toMatchObject({ targetForm: 'authority', path: 'b:443', authority: { text: 'b:443' } });
    expect(decide({ target: '/p?q' }, ['Host: A:8080'])).toMatchObject({ targetForm: 'origin', path: '/p?q', authority: { text: 'a:8080' } });
  });

  it('decides persistence by version and Connection (RFC 9112 §9.3)', () => {
    expect(decide({}, ['Host: a'])).toMatchObject({ keepAlive: true });
    expect(decide({}, ['Host: a', 'Connection: foo, Close'])).toMatchObject({ keepAlive: false, connection: ['foo', 'close'] });
    expect(decide({ version: '1.0' }, ['Connection: Keep-Alive'])).toMatchObject({ keepAlive: true });
    expect(decide({ version: '1.0' }, [])).toMatchObject({ keepAlive: false });
  });

  it('meets 100-continue, refuses other expectations with 417, and ignores them on HTTP/1.0', () => {
    expect(decide({}, ['Host: a', 'Expect: 100-Continue'])).toMatchObject({ expectContinue: true });
    expect(decide({}, ['Host: a', 'Expect: 200-ok'])).toMatchObject({ kind: 'refused', status: 417 });
    expect(decide({ version: '1.0' }, ['Expect: 100-continue'])).toMatchObject({ expectContinue: false });
  });

  it('sees an upgrade request only with the upgrade option in Connection, on HTTP/1.1', () => {
    expect(decide({}, ['Host: a', 'Connection: Upgrade', 'Upgrade: websocket'])).toMatchObject({ upgrade: 'websocket' });
    expect(decide({}, ['Host: a', 'Upgrade: websocket'])).toMatchObject({ upgrade: undefined });
    expect(decide({ version: '1.0' }, ['Connection: upgrade', 'Upgrade: websocket'])).toMatchObject({ upgrade: undefined });
  });
});

describe('parseContentLength', () => {
  it('takes 1*DIGIT up to 2^53 - 1', () => {
    expect(parseContentLength('0')).toBe(0);
    expect(parseContentLength('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
    for (const value of ['', '9007199254740992', '00000000000000001', '1 ', '-1', '1_0']) expect(parseContentLength(value)).toBeUndefined();
  });
});
