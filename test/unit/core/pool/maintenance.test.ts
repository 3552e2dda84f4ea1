import { describe, expect, it } from 'vitest';
import { memoryExcess } from '../../../../src/core/pool/maintenance.js';

const MB = 1024 * 1024;
const LIMIT = 100 * MB;

/** Feeds samples (MB, null = unreadable) through memoryExcess as the periodic check does; the check at which it recycles (1-based), or undefined. */
function recycledAt(samplesMb: (number | null)[], checks: number): number | undefined {
  let overChecks = 0;
  for (const [i, mb] of samplesMb.entries()) {
    const verdict = memoryExcess(overChecks, mb === null ? null : mb * MB, LIMIT, checks);
    overChecks = verdict.overChecks;
    if (verdict.recycle) return i + 1;
  }
  return undefined;
}

describe('memoryExcess', () => {
  it('recycles only after N consecutive checks over the limit', () => {
    expect(recycledAt([150, 150], 3)).toBeUndefined();
    expect(recycledAt([150, 150, 150], 3)).toBe(3);
    expect(recycledAt([50, 150, 150, 150, 150], 3)).toBe(4);
  });

  it('starts counting again after one sample under the limit', () => {
    expect(recycledAt([150, 150, 90, 150, 150], 3)).toBeUndefined();
    expect(recycledAt([150, 150, 90, 150, 150, 150], 3)).toBe(6);
  });

  it('takes exactly the limit as within it', () => {
    expect(recycledAt([100, 100, 100, 100], 3)).toBeUndefined();
  });

  it('neither counts nor resets on a sample it could not read', () => {
    expect(recycledAt([150, null, 150, null, 150], 3)).toBe(5);
    expect(recycledAt([null, null, null, null], 1)).toBeUndefined();
  });

  it('recycles at the first excess with --memory-limit-checks 1', () => {
    expect(recycledAt([50, 150], 1)).toBe(2);
  });

  it('reports the run of checks over the limit', () => {
    expect(memoryExcess(0, 150 * MB, LIMIT, 3)).toEqual({ overChecks: 1, recycle: false });
    expect(memoryExcess(2, 150 * MB, LIMIT, 3)).toEqual({ overChecks: 3, recycle: true });
    expect(memoryExcess(2, 10 * MB, LIMIT, 3)).toEqual({ overChecks: 0, recycle: false });
  });
});
