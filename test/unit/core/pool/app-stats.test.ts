import { describe, expect, it } from 'vitest';
import { FixedHistogram, ResponseCounts, statusClassIndex, STATUS_CLASSES } from '../../../../src/core/pool/app-stats.js';

describe('statusClassIndex', () => {
  it('maps each status to its class', () => {
    expect([100, 200, 204, 302, 404, 499, 500, 503, 599].map((s) => STATUS_CLASSES[statusClassIndex(s)])).toEqual(['1xx', '2xx', '2xx', '3xx', '4xx', '4xx', '5xx', '5xx', '5xx']);
  });

  it('counts a status outside 100..599 as 5xx, so the label set stays five values', () => {
    expect([0, 42, 600, 999].map((s) => STATUS_CLASSES[statusClassIndex(s)])).toEqual(['5xx', '5xx', '5xx', '5xx']);
  });
});

describe('ResponseCounts', () => {
  it('counts answers by class', () => {
    const counts = new ResponseCounts();
    for (const status of [200, 201, 404, 503, 503]) counts.count(status);
    expect(counts.byClass).toEqual([0, 2, 0, 1, 2]);
  });
});

describe('FixedHistogram', () => {
  it('puts an observation in the first bucket whose bound it does not exceed (bounds are inclusive)', () => {
    const h = new FixedHistogram([0.1, 1]);
    for (const s of [0, 0.1, 0.10001, 1, 5]) h.observe(s);
    expect(h.counts).toEqual([2, 2, 1]);
    expect(h.count).toBe(5);
    expect(h.sum).toBeCloseTo(6.20001);
  });

  it('reports cumulative buckets ending with +Inf, as Prometheus wants them', () => {
    const h = new FixedHistogram([0.1, 1]);
    for (const s of [0.05, 0.5, 0.5, 3]) h.observe(s);
    expect(h.cumulative()).toEqual([
      { le: '0.1', count: 1 },
      { le: '1', count: 3 },
      { le: '+Inf', count: 4 },
    ]);
  });
});
