import { describe, expect, it } from 'vitest';
import { CombinedClock, combinedTime, escapeField, formatCombined, formatJson, seconds, type AccessRecord } from '../../../../src/core/access-log/format.js';

// TZ=UTC (vitest.config.ts): the combined time is local time.
const RECORD: AccessRecord = {
  timeMs: Date.parse('2026-12-02T05:06:07.890Z'),
  client: '127.0.0.1',
  method: 'GET',
  target: '/shop?page=2',
  httpVersion: '1.1',
  status: 200,
  bytes: 1234,
  durationMs: 12.3456,
  app: 'shop',
  pid: 4188,
  cache: 'miss',
  requestId: 'a3f09c-1f',
  referer: 'http://example.test/',
  userAgent: 'curl/8.0',
};

describe('combined format', () => {
  it('writes the Apache/nginx combined prefix, then Ferry\'s fields as key=value', () => {
    expect(formatCombined(RECORD, new CombinedClock())).toBe(
      '127.0.0.1 - - [02/Dec/2026:05:06:07 +0000] "GET /shop?page=2 HTTP/1.1" 200 1234 "http://example.test/" "curl/8.0" rt=0.012 app=shop pid=4188 cache=miss rid=a3f09c-1f\n',
    );
  });

  it('writes - for what does not apply (a refusal: no app, no process, no cache verdict)', () => {
    const line = formatCombined({ ...RECORD, client: undefined, app: undefined, pid: undefined, cache: undefined, requestId: undefined, referer: undefined, userAgent: '' }, new CombinedClock());
    expect(line).toBe('- - - [02/Dec/2026:05:06:07 +0000] "GET /shop?page=2 HTTP/1.1" 200 1234 "-" "-" rt=0.012 app=- pid=- cache=- rid=-\n');
  });

  it('writes "-" as the request of one the parser refused before it had a method or target', () => {
    const line = formatCombined({ ...RECORD, method: undefined, target: undefined, httpVersion: undefined, status: 400, app: undefined, pid: undefined, cache: undefined }, new CombinedClock());
    expect(line).toContain('] "-" 400 1234 ');
    expect(JSON.parse(formatJson({ ...RECORD, method: undefined, target: undefined, httpVersion: undefined }))).not.toHaveProperty('protocol');
  });

  it('escapes what a client controls, so no request can forge a line, a field or a terminal escape', () => {
    expect(escapeField('plain/path?a=1')).toBe('plain/path?a=1');
    expect(escapeField('a"b\\c')).toBe('a\\"b\\\\c');
    expect(escapeField('x\ny\u001b[31m')).toBe('x\\x0ay\\x1b[31m');
    expect(escapeField('é')).toBe('\\xc3\\xa9');
    const line = formatCombined({ ...RECORD, target: '/"\n1.2.3.4 - - [forged]', userAgent: 'evil"\r\n' }, new CombinedClock());
    expect(line.split('\n')).toHaveLength(2);
    expect(line).toContain('"GET /\\"\\x0a1.2.3.4 - - [forged] HTTP/1.1"');
    expect(line).toContain('"evil\\"\\x0d\\x0a"');
  });

  it('gives the time zone offset of local time, and the clock formats each second once', () => {
    expect(combinedTime(new Date('2026-01-09T23:59:59Z'))).toBe('[09/Jan/2026:23:59:59 +0000]');
    const clock = new CombinedClock();
    const first = clock.format(Date.parse('2026-12-02T05:06:07.001Z'));
    expect(clock.format(Date.parse('2026-12-02T05:06:07.999Z'))).toBe(first);
    expect(clock.format(Date.parse('2026-12-02T05:06:08.000Z'))).toBe('[02/Dec/2026:05:06:08 +0000]');
  });
});

describe('seconds', () => {
  it('writes milliseconds as seconds with three decimals, rounded to the millisecond', () => {
    expect([0, 0.4, 0.6, 7, 12.3456, 99.5, 1000, 61234.5].map(seconds)).toEqual(['0.000', '0.000', '0.001', '0.007', '0.012', '0.100', '1.000', '61.235']);
  });
});

describe('json format', () => {
  it('writes one object per line with every field, leaving out those that do not apply', () => {
    const line = formatJson({ ...RECORD, pid: undefined, cache: 'hit', referer: undefined });
    expect(line.endsWith('}\n')).toBe(true);
    expect(JSON.parse(line)).toEqual({
      time: '2026-12-02T05:06:07.890Z',
      client: '127.0.0.1',
      method: 'GET',
      target: '/shop?page=2',
      protocol: 'HTTP/1.1',
      status: 200,
      bytes: 1234,
      durationMs: 12.346,
      app: 'shop',
      cache: 'hit',
      reqId: 'a3f09c-1f',
      userAgent: 'curl/8.0',
    });
  });

  it('keeps a hostile target inside its string', () => {
    const line = formatJson({ ...RECORD, target: '/"}\n{"status":500' });
    expect(line.split('\n')).toHaveLength(2);
    expect(JSON.parse(line).target).toBe('/"}\n{"status":500');
  });
});
