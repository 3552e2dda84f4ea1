import { describe, expect, it } from 'vitest';
import { COLOR_STYLE, entryJson, formatEntry, matches, parseLogLine, parseSince, PLAIN_STYLE } from '../../../../src/cli/format/log-line.js';

// TZ=UTC (vitest.config.ts): local time is UTC here.
const T = Date.parse('2026-12-02T05:06:07.123Z');
const line = (record: Record<string, unknown>): string => JSON.stringify({ level: 30, time: T, ...record });

describe('formatEntry', () => {
  it("shows an app's stdout as TIME LEVEL APP[PID] stdout: MESSAGE, in local time", () => {
    expect(formatEntry(parseLogLine(line({ pid: 4188, app: 'shop', stream: 'stdout', msg: 'listening on 3000' })), PLAIN_STYLE)).toBe('2026-12-02 05:06:07.123 INFO  shop[4188] stdout: listening on 3000');
  });

  it('marks stderr, and colours it apart from stdout', () => {
    const entry = parseLogLine(line({ pid: 4188, app: 'shop', stream: 'stderr', msg: 'DeprecationWarning' }));
    expect(formatEntry(entry, PLAIN_STYLE)).toBe('2026-12-02 05:06:07.123 INFO  shop[4188] stderr: DeprecationWarning');
    const coloured = formatEntry(entry, COLOR_STYLE);
    expect(coloured).toContain('\u001b[31mstderr\u001b[0m: \u001b[31mDeprecationWarning\u001b[0m');
    const stdout = formatEntry(parseLogLine(line({ pid: 4188, app: 'shop', stream: 'stdout', msg: 'fine' })), COLOR_STYLE);
    expect(stdout).not.toContain('\u001b[31m');
  });

  it("shows Ferry's own lines as ferry COMPONENT[PID] with their fields and the error's stack", () => {
    const text = line({ level: 50, pid: 4101, component: 'pool', app: 'shop', appPid: 4188, reason: 'exit 1', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x (a.js:1)' }, msg: 'app process died' });
    expect(formatEntry(parseLogLine(text), PLAIN_STYLE)).toBe('2026-12-02 05:06:07.123 ERROR ferry pool[4101]: app process died app=shop appPid=4188 reason="exit 1"\n    Error: boom\n        at x (a.js:1)');
  });

  it("takes an app's JSON line at its own level, with its fields", () => {
    const text = line({ pid: 4188, app: 'shop', stream: 'stdout', msg: 'cart abandoned', json: { level: 40, time: 1, pid: 9, msg: 'cart abandoned', cartId: 'c-9' } });
    expect(formatEntry(parseLogLine(text), PLAIN_STYLE)).toBe('2026-12-02 05:06:07.123 WARN  shop[4188] stdout: cart abandoned cartId=c-9');
  });

  it('prints a line that is no record (what Node printed on a fatal error) as it is', () => {
    expect(formatEntry(parseLogLine('TypeError: x is not a function'), PLAIN_STYLE)).toBe('TypeError: x is not a function');
    expect(formatEntry(parseLogLine('{not json'), PLAIN_STYLE)).toBe('{not json');
  });
});

describe('matches', () => {
  const out = parseLogLine(line({ pid: 1, app: 'shop', stream: 'stdout', msg: 'a' }));
  const err = parseLogLine(line({ pid: 1, app: 'shop', stream: 'stderr', msg: 'b' }));
  const ferry = parseLogLine(line({ level: 40, pid: 2, component: 'pool', app: 'shop', msg: 'c' }));
  const other = parseLogLine(line({ pid: 3, app: 'blog', stream: 'stdout', msg: 'd' }));
  const raw = parseLogLine('Segmentation fault');

  it('by app: its output and Ferry lines about it', () => {
    expect([out, err, ferry, other, raw].map((e) => matches(e, { app: 'shop' }))).toEqual([true, true, true, false, false]);
  });
  it('by stream: app output only', () => {
    expect([out, err, ferry, other, raw].map((e) => matches(e, { stream: 'stderr' }))).toEqual([false, true, false, false, false]);
  });
  it('by level and time; text without a level or time stays', () => {
    expect([out, ferry, raw].map((e) => matches(e, { minLevel: 40 }))).toEqual([false, true, true]);
    expect([out, raw].map((e) => matches(e, { sinceMs: T + 1 }))).toEqual([false, true]);
    expect(matches(out, { sinceMs: T })).toBe(true);
  });
});

describe('parseSince', () => {
  const now = new Date('2026-12-02T12:00:00Z');
  it('takes durations back from now', () => {
    expect(parseSince('90s', now)).toBe(now.getTime() - 90_000);
    expect(parseSince('10m', now)).toBe(now.getTime() - 600_000);
    expect(parseSince('2h', now)).toBe(now.getTime() - 7_200_000);
    expect(parseSince('1d', now)).toBe(now.getTime() - 86_400_000);
  });
  it('takes a time of day (today) and dates, in local time', () => {
    expect(parseSince('05:30', now)).toBe(Date.parse('2026-12-02T05:30:00Z'));
    expect(parseSince('05:30:15', now)).toBe(Date.parse('2026-12-02T05:30:15Z'));
    expect(parseSince('2026-12-01', now)).toBe(Date.parse('2026-12-01T00:00:00Z'));
    expect(parseSince('2026-12-01 14:30', now)).toBe(Date.parse('2026-12-01T14:30:00Z'));
    expect(parseSince('2026-12-01T14:30:00Z', now)).toBe(Date.parse('2026-12-01T14:30:00Z'));
  });
  it('refuses anything else', () => {
    for (const bad of ['', '10', '1x', 'yesterday', '25:00', '12:61', '2026-13-45 10:00']) expect(parseSince(bad, now), bad).toBeUndefined();
  });
});

describe('entryJson', () => {
  it('gives the record as written, and wraps text that is none', () => {
    const text = line({ pid: 1, msg: 'x' });
    expect(entryJson(parseLogLine(text))).toBe(text);
    expect(JSON.parse(entryJson(parseLogLine('Aborted')))).toEqual({ raw: 'Aborted' });
  });
});
