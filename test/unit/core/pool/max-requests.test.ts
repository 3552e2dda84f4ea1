import { describe, expect, it } from 'vitest';
import { maxRequestsFor } from '../../../../src/core/pool/max-requests.js';

describe('maxRequestsFor', () => {
  it('adds 0 to N requests, uniform over the whole numbers, N included (gunicorn)', () => {
    expect(maxRequestsFor(1000, 50, () => 0)).toBe(1000);
    expect(maxRequestsFor(1000, 50, () => 0.999999)).toBe(1050);
    expect(maxRequestsFor(1000, 50, () => 0.5)).toBe(1025);
    // Each of the N + 1 values takes an equal share of [0, 1).
    const seen = new Map<number, number>();
    for (let i = 0; i < 400; i++) {
      const limit = maxRequestsFor(10, 3, () => i / 400);
      seen.set(limit, (seen.get(limit) ?? 0) + 1);
    }
    expect([...seen.entries()].sort()).toEqual([
      [10, 100],
      [11, 100],
      [12, 100],
      [13, 100],
    ]);
  });

  it('is --max-requests itself without jitter', () => {
    expect(maxRequestsFor(1000, 0, () => 0.7)).toBe(1000);
  });

  it('stays 0 (never) without --max-requests', () => {
    expect(maxRequestsFor(0, 50, () => 0.7)).toBe(0);
  });
});
