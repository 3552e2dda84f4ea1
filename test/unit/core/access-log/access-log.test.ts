import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BatchedWriter, FLUSH_BYTES, FLUSH_MS } from '../../../../src/core/access-log/access-log.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-access-'));
});
afterEach(() => {
  vi.useRealTimers();
  fs.rmSync(dir, { recursive: true, force: true });
});

function open(name: string): number {
  return fs.openSync(path.join(dir, name), 'a');
}
const read = (name: string): string => fs.readFileSync(path.join(dir, name), 'utf8');

/** Polls until `done` holds: writes go through libuv's thread pool, which a loaded machine makes slow. */
async function until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const lineCount = (name: string): number => read(name).split('\n').filter(Boolean).length;

describe('BatchedWriter', () => {
  it('writes nothing per line: the lines of one interval go out together, after FLUSH_MS', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const writer = new BatchedWriter(open('a.log'), true);
    const spy = vi.spyOn(fs, 'write');
    for (let i = 0; i < 100; i++) writer.write(`line ${i}\n`);
    expect(spy).not.toHaveBeenCalled();
    expect(read('a.log')).toBe('');
    vi.advanceTimersByTime(FLUSH_MS);
    expect(spy).toHaveBeenCalledTimes(1);
    vi.useRealTimers();
    await until(() => lineCount('a.log') === 100, 'the 100 lines');
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
    writer.close();
  });

  it('writes at once when FLUSH_BYTES are pending, and keeps the order across writes in flight', async () => {
    const writer = new BatchedWriter(open('b.log'), true);
    const big = 'x'.repeat(1000);
    const count = Math.ceil((3 * FLUSH_BYTES) / 1000);
    for (let i = 0; i < count; i++) writer.write(`${i} ${big}\n`);
    await until(() => lineCount('b.log') === count, 'every line');
    const numbers = read('b.log').split('\n').filter(Boolean).map((l) => Number(l.split(' ')[0]));
    expect(numbers).toEqual([...Array(count).keys()]);
    writer.close();
  });

  it('flushSync writes what is pending at once (at exit)', () => {
    const writer = new BatchedWriter(open('c.log'), true);
    writer.write('last words\n');
    writer.flushSync();
    expect(read('c.log')).toBe('last words\n');
    writer.close();
  });

  it('after a reopen, every line is in exactly one file: those written before in the old, those after in the new', async () => {
    const writer = new BatchedWriter(open('d.log'), true);
    writer.write('before 1\n');
    writer.flush(); // in flight while the file is renamed and reopened
    fs.renameSync(path.join(dir, 'd.log'), path.join(dir, 'd.log.1'));
    writer.write('between\n');
    writer.replaceFd(open('d.log'));
    writer.write('after\n');
    await until(() => lineCount('d.log') === 2 && lineCount('d.log.1') === 1, 'both files');
    expect(read('d.log.1')).toBe('before 1\n');
    // Pending lines were not written yet: they go to the new file.
    expect(read('d.log')).toBe('between\nafter\n');
    writer.close();
  });

  it('drops lines (and says how many) rather than hold without bound when the disk does not keep up', async () => {
    const dropped: number[] = [];
    const writer = new BatchedWriter(open('e.log'), true, undefined, (n) => dropped.push(n));
    const line = 'y'.repeat(1024 * 1024) + '\n';
    // One write in flight; the rest pile up behind it until the cap.
    for (let i = 0; i < 40; i++) writer.write(line);
    const total = (): number => lineCount('e.log') + dropped.reduce((a, b) => a + b, 0);
    await until(() => total() === 40, 'every line written or counted as dropped');
    expect(dropped.length).toBeGreaterThan(0);
    expect(lineCount('e.log')).toBeLessThan(40);
    writer.close();
  });
});
