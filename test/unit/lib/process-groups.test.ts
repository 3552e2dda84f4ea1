import { describe, expect, it } from 'vitest';
import { isProcessRunning, parseStatGroup } from '../../../src/lib/process-groups.js';

/** A /proc/PID/stat line with the fields we read and a realistic tail. */
function statLine(pid: number, comm: string, state: string, ppid: number, pgid: number): string {
  return `${pid} (${comm}) ${state} ${ppid} ${pgid} ${pgid} 0 -1 4194560 1094 0 0 0 2 1 0 0 20 0 1 0 5678 12345678 987 18446744073709551615\n`;
}

describe('parseStatGroup', () => {
  it('reads state, parent pid and process group of a plain command', () => {
    expect(parseStatGroup(statLine(4242, 'node', 'S', 1, 4242))).toEqual({ state: 'S', ppid: 1, pgid: 4242 });
  });

  it('reads the fields after a command that holds spaces and parentheses', () => {
    expect(parseStatGroup(statLine(77, 'my (weird) app', 'R', 10, 70))).toEqual({ state: 'R', ppid: 10, pgid: 70 });
  });

  it('is not fooled by a command that looks like the rest of the line', () => {
    expect(parseStatGroup(statLine(77, 'evil) R 1 1 1', 'Z', 12, 99))).toEqual({ state: 'Z', ppid: 12, pgid: 99 });
  });

  it('returns undefined for a line without a command', () => {
    expect(parseStatGroup('garbage without parentheses')).toBeUndefined();
  });

  it('returns undefined for a line cut short after the command', () => {
    expect(parseStatGroup('12 (node)')).toBeUndefined();
    expect(parseStatGroup('12 (node) S')).toBeUndefined();
    expect(parseStatGroup('12 (node) S x y')).toBeUndefined();
  });
});

describe('isProcessRunning', () => {
  it('says the test process itself is running', () => {
    expect(isProcessRunning(process.pid)).toBe(true);
  });

  it('says a pid above the kernel limit is not running', () => {
    expect(isProcessRunning(4_194_304 + 12_345)).toBe(false);
  });
});
