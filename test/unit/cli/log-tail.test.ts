import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseLogLine, type LogEntry } from '../../../src/cli/format/log-line.js';
import { LogFollower, readLastEntries, RENAMED_DRAIN_MS } from '../../../src/cli/log-tail.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-tail-'));
  file = path.join(dir, 'ferry.log');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const rec = (n: number, extra: Record<string, unknown> = {}): string => JSON.stringify({ level: 30, time: 1_000_000 + n * 1000, pid: 1, app: 'a', stream: 'stdout', msg: `m${n}`, ...extra }) + '\n';
const msgs = (entries: LogEntry[]): string[] => entries.map((e) => (e.kind === 'record' ? String(e.record.msg) : e.text));

function tail(lines: number | undefined, filter = {}): { msgs: string[]; offset: number } {
  const fd = fs.openSync(file, 'r');
  try {
    const { entries, offset } = readLastEntries(fd, fs.fstatSync(fd).size, lines, filter);
    return { msgs: msgs(entries), offset };
  } finally {
    fs.closeSync(fd);
  }
}

describe('readLastEntries', () => {
  it('gives the last N lines in file order, reading backwards across chunk boundaries', () => {
    // Lines of varied length, ~700 KB: many 64 KiB chunks, lines cut at their edges.
    let text = '';
    for (let i = 0; i < 3000; i++) text += rec(i, { pad: 'é'.repeat(i % 200) });
    fs.writeFileSync(file, text);
    expect(tail(3).msgs).toEqual(['m2997', 'm2998', 'm2999']);
    expect(tail(undefined).msgs).toHaveLength(3000);
    expect(tail(undefined).msgs[0]).toBe('m0');
    expect(tail(0).msgs).toEqual([]);
  });

  it('counts only lines that match, and stops at records older than --since', () => {
    fs.writeFileSync(file, [rec(1), rec(2, { stream: 'stderr' }), rec(3), rec(4, { stream: 'stderr' }), rec(5)].join(''));
    expect(tail(10, { stream: 'stderr' }).msgs).toEqual(['m2', 'm4']);
    expect(tail(undefined, { sinceMs: 1_000_000 + 4000 }).msgs).toEqual(['m4', 'm5']);
  });

  it('leaves an unfinished last line to following', () => {
    const text = rec(1) + rec(2);
    fs.writeFileSync(file, text + '{"level":30,"ti');
    expect(tail(5)).toEqual({ msgs: ['m1', 'm2'], offset: Buffer.byteLength(text) });
  });
});

describe('LogFollower', () => {
  function follow(startAtEnd = true): { seen: string[]; follower: LogFollower; clock: { now: number } } {
    const fd = fs.openSync(file, 'r');
    const seen: string[] = [];
    const clock = { now: 0 };
    const follower = new LogFollower(file, { fd, offset: startAtEnd ? fs.fstatSync(fd).size : 0 }, {}, (e) => seen.push(...msgs([e])), () => clock.now);
    return { seen, follower, clock };
  }

  it('prints lines as they are appended, a line split across two writes once whole', () => {
    fs.writeFileSync(file, rec(1));
    const { seen, follower } = follow();
    fs.appendFileSync(file, rec(2) + rec(3).slice(0, 10));
    follower.poll();
    expect(seen).toEqual(['m2']);
    fs.appendFileSync(file, rec(3).slice(10));
    follower.poll();
    expect(seen).toEqual(['m2', 'm3']);
    follower.stop();
  });

  it('follows logrotate: the renamed file is read to its end (writers there until they reopen), then the new one', () => {
    fs.writeFileSync(file, rec(1));
    const { seen, follower, clock } = follow();
    fs.appendFileSync(file, rec(2));
    fs.renameSync(file, `${file}.1`);
    follower.poll(); // no file at the path yet
    fs.appendFileSync(`${file}.1`, rec(3)); // written before the writers reopened
    fs.writeFileSync(file, rec(4)); // `create`, then the reopen
    follower.poll();
    fs.appendFileSync(`${file}.1`, rec(5)); // a late line of a writer that had not reopened yet
    fs.appendFileSync(file, rec(6));
    follower.poll();
    expect(seen.sort()).toEqual(['m2', 'm3', 'm4', 'm5', 'm6']);
    // Once the drain time is over, the renamed file is let go.
    clock.now += RENAMED_DRAIN_MS + 1;
    follower.poll();
    fs.appendFileSync(`${file}.1`, rec(7));
    fs.appendFileSync(file, rec(8));
    follower.poll();
    expect(seen.slice(-1)).toEqual(['m8']);
    expect(seen).not.toContain('m7');
    follower.stop();
  });

  it('follows copytruncate: a file that shrank is read again from its start', () => {
    fs.writeFileSync(file, rec(1) + rec(2));
    const { seen, follower } = follow();
    fs.truncateSync(file, 0);
    fs.appendFileSync(file, rec(3));
    follower.poll();
    expect(seen).toEqual(['m3']);
    follower.stop();
  });
});

describe('parseLogLine', () => {
  it('takes a JSON object as a record, anything else as text', () => {
    expect(parseLogLine('{"msg":"x"}').kind).toBe('record');
    expect(parseLogLine('[1,2]').kind).toBe('raw');
    expect(parseLogLine('plain').kind).toBe('raw');
  });
});
