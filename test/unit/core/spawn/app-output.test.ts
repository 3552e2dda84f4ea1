import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { describeAppLine, LineSplitter } from '../../../../src/core/spawn/app-output.js';

describe('LineSplitter', () => {
  let lines: [string, boolean][];
  const splitter = (maxLineChars = 10, flushAfterMs = 500): LineSplitter => new LineSplitter((line, partial) => lines.push([line, partial]), maxLineChars, flushAfterMs);

  beforeEach(() => {
    lines = [];
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('emits one line per newline, joining pieces that arrive in several chunks', () => {
    const s = splitter();
    s.push('one\ntw');
    s.push('o\r\nthree\n');
    expect(lines).toEqual([
      ['one', false],
      ['two', false],
      ['three', false],
    ]);
  });

  it('keeps empty lines', () => {
    splitter().push('a\n\nb\n');
    expect(lines.map(([l]) => l)).toEqual(['a', '', 'b']);
  });

  it('splits a line longer than the limit into partial pieces, the last one whole', () => {
    splitter(4).push('abcdefghij\n');
    expect(lines).toEqual([
      ['abcd', true],
      ['efgh', true],
      ['ij', false],
    ]);
  });

  it('splits an unfinished line as soon as it passes the limit, without waiting for its newline', () => {
    const s = splitter(4);
    s.push('abcdefghi');
    expect(lines).toEqual([
      ['abcd', true],
      ['efgh', true],
    ]);
    s.push('\n');
    expect(lines.at(-1)).toEqual(['i', false]);
  });

  it('logs an unfinished line after the delay, and nothing twice', () => {
    const s = splitter(100, 500);
    s.push('Password: ');
    vi.advanceTimersByTime(499);
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(lines).toEqual([['Password: ', true]]);
    s.push('\n');
    expect(lines).toEqual([
      ['Password: ', true],
      ['', false],
    ]);
  });

  it('restarts the delay when more of the line arrives', () => {
    const s = splitter(100, 500);
    s.push('loading');
    vi.advanceTimersByTime(400);
    s.push('...');
    vi.advanceTimersByTime(400);
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(lines).toEqual([['loading...', true]]);
  });

  it('flushes the unfinished rest when the stream ends', () => {
    const s = splitter();
    s.push('last words');
    s.flush();
    s.flush();
    expect(lines).toEqual([['last words', true]]);
  });
});

describe('describeAppLine', () => {
  it('logs a plain line as the message', () => {
    expect(describeAppLine('listening on 3000', false)).toEqual({ msg: 'listening on 3000' });
  });

  it('nests a JSON object line under json, taking its msg as the message', () => {
    const line = '{"level":30,"time":1,"pid":7,"msg":"user signed in","userId":42}';
    expect(describeAppLine(line, false)).toEqual({ msg: 'user signed in', fields: { json: { level: 30, time: 1, pid: 7, msg: 'user signed in', userId: 42 } } });
  });

  it('gives a JSON line without a string msg an empty message', () => {
    expect(describeAppLine('{"event":"tick"}', false)).toEqual({ msg: '', fields: { json: { event: 'tick' } } });
  });

  it('keeps text that only looks like JSON, and JSON that is not an object, as text', () => {
    expect(describeAppLine('{not json}', false)).toEqual({ msg: '{not json}' });
    expect(describeAppLine('[1,2]', false)).toEqual({ msg: '[1,2]' });
  });

  it("takes a loader's exception record as an exception (its fields under exception), and nothing else that looks like one", () => {
    const exception = { when: 'request', type: 'ZeroDivisionError', message: 'division by zero', file: 'app.py', line: 3, function: 'index', traceback: 'Traceback (most recent call last):\n  File "app.py", line 3, in index\nZeroDivisionError: division by zero\n' };
    const line = JSON.stringify({ msg: 'exception in GET /: ZeroDivisionError: division by zero (at app.py:3 in index)', ferryAppException: exception });
    expect(describeAppLine(line, false)).toEqual({ msg: 'exception in GET /: ZeroDivisionError: division by zero (at app.py:3 in index)', fields: { exception }, exception });
    const notOurs = JSON.stringify({ msg: 'x', ferryAppException: { when: 'later', type: 'E', traceback: '' } });
    expect(describeAppLine(notOurs, false).exception).toBeUndefined();
  });

  it('marks a partial piece and never parses it', () => {
    expect(describeAppLine('{"a":1}', true)).toEqual({ msg: '{"a":1}', fields: { partial: true } });
  });
});
