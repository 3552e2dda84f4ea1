// Differential fuzz of the engine against Node's llhttp (strict), fixed seed: see
// test/helpers/engine-fuzz.ts. A longer run with any seed: npx tsx scripts/fuzz-engine.ts.

import { describe, expect, it } from 'vitest';
import { runFuzz } from '../../../helpers/engine-fuzz.js';

describe('the engine against llhttp', () => {
  it('refuses, or reads exactly as llhttp does, 3000 mutated request streams (seed 1)', async () => {
    const report = await runFuzz(1, 3000);
    expect(report.disagreements).toEqual([]);
    // The fuzz must exercise both sides: most streams agree, and some are refused by Ferry alone.
    expect(report.agreements).toBeGreaterThan(2500);
    expect(report.ferryRefuses.size).toBeGreaterThan(3);
  });
});
