import { describe, expect, it } from 'vitest';
import { RecentLines } from '../../../../src/core/spawn/recent-lines.js';

describe('RecentLines', () => {
  it('keeps the last lines, oldest first', () => {
    const recent = new RecentLines(3);
    recent.push('a');
    recent.push('b');
    expect(recent.toArray()).toEqual(['a', 'b']);
    for (const line of ['c', 'd', 'e']) recent.push(line);
    expect(recent.toArray()).toEqual(['c', 'd', 'e']);
    recent.push('f');
    expect(recent.toArray()).toEqual(['d', 'e', 'f']);
  });

  it('cuts a huge line', () => {
    const recent = new RecentLines(1);
    recent.push('x'.repeat(10_000));
    expect(recent.toArray()[0]).toBe(`${'x'.repeat(2048)}…`);
  });
});
