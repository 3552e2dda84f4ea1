import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLogLine } from '../../../../src/cli/format/log-line.js';
import { paneEntry, readLogTail } from '../../../../src/cli/ui/log-pane.js';
import { tempDir } from '../../../helpers/ferry.js';

const pane = (text: string) => paneEntry(parseLogLine(text));

const line = (record: Record<string, unknown>): string => JSON.stringify({ level: 30, time: 1_796_188_262_844, ...record });

describe('paneEntry', () => {
  it("reads app output, Ferry's lines about a process, and plain text", () => {
    expect(pane(line({ app: 'hello', pid: 16233, stream: 'stderr', msg: 'boom' }))).toEqual({ time: 1_796_188_262_844, level: 30, app: 'hello', pid: 16233, stream: 'stderr', msg: 'boom' });
    expect(pane(line({ pid: 16221, component: 'app', app: 'hello', appPid: 16233, msg: 'app process ready' }))).toMatchObject({ pid: 16233, app: 'hello' });
    expect(pane('{not json')).toEqual({ msg: '{not json' });
    expect(pane('12:00:00 INFO core[1]: serving')).toEqual({ msg: '12:00:00 INFO core[1]: serving' });
  });
});

describe('readLogTail', () => {
  it("gives the last lines of one app, oldest first, from the file's end only", () => {
    const file = path.join(tempDir('ferry-log-tail-'), 'ferry.log');
    const lines = [];
    for (let i = 0; i < 5000; i++) lines.push(line({ app: i % 2 === 0 ? 'web' : 'api', pid: 10, stream: 'stdout', msg: `line ${i}` }));
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const tail = readLogTail(file, { lines: 3, app: 'api', maxBytes: 4096 });
    expect(tail.map((e) => e.msg)).toEqual(['line 4995', 'line 4997', 'line 4999']);
    // A read that starts mid-line drops that piece rather than show half a record.
    const small = readLogTail(file, { lines: 1000, maxBytes: 500 });
    expect(small.every((e) => e.app !== undefined)).toBe(true);
  });

  it('gives nothing for a file that is not there', () => {
    expect(readLogTail('/nonexistent/ferry.log', { lines: 5 })).toEqual([]);
  });
});
