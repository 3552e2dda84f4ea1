import { describe, expect, it } from 'vitest';
import { currentSelection, fitColumns, moveSelection, poolRates, processRates, selectedApp } from '../../../../src/cli/ui/watch-model.js';
import { POOL, processSnapshot } from '../../../helpers/snapshots.js';

describe('processRates', () => {
  it('is the CPU time and the requests of the last interval, not of the whole life', () => {
    // Given a process that idled 100 s (1 s of CPU), then used 450 ms of CPU and finished 30 requests in one second,
    const before = processSnapshot({ uptimeMs: 100_000, cpuTimeMs: 1_000, processed: 10, cpuPercent: 1 });
    const after = processSnapshot({ uptimeMs: 101_000, cpuTimeMs: 1_450, processed: 40, cpuPercent: 1.4 });
    // then its rates are 45 % and 30 req/s, although its lifetime average is 1.4 %.
    expect(processRates(before, after)).toEqual({ cpuPercent: 45, requestsPerSecond: 30 });
  });

  it('knows nothing of a process seen for the first time, or of another one under the same pid', () => {
    expect(processRates(undefined, processSnapshot())).toEqual({ cpuPercent: null, requestsPerSecond: null });
    const reused = processSnapshot({ spawnedAt: '2026-11-22T20:40:00Z', uptimeMs: 20_000 });
    expect(processRates(processSnapshot(), reused)).toEqual({ cpuPercent: null, requestsPerSecond: null });
  });

  it('has no CPU rate when /proc could not be read', () => {
    const rates = processRates(processSnapshot({ cpuTimeMs: null }), processSnapshot({ uptimeMs: 10_000, processed: 6 }));
    expect(rates).toEqual({ cpuPercent: null, requestsPerSecond: 2 });
  });

  it('keys the rates of a whole pool by pid', () => {
    const later = { ...POOL, groups: [{ ...POOL.groups[0]!, processes: POOL.groups[0]!.processes.map((p) => ({ ...p, uptimeMs: p.uptimeMs + 2_000, cpuTimeMs: (p.cpuTimeMs ?? 0) + 200 })) }] };
    const rates = poolRates(POOL, later);
    expect([...rates.keys()]).toEqual([9106, 12889]);
    expect(rates.get(9106)).toEqual({ cpuPercent: 10, requestsPerSecond: 0 });
  });
});

describe('selection', () => {
  const two = { ...POOL, groups: [POOL.groups[0]!, { ...POOL.groups[0]!, name: 'api', processes: [processSnapshot({ pid: 777 })] }] };

  it('starts on the first process and moves across groups, stopping at the ends', () => {
    expect(currentSelection(two, undefined)).toBe(9106);
    expect(moveSelection(two, undefined, 1)).toBe(12889);
    expect(moveSelection(two, 12889, 1)).toBe(777);
    expect(moveSelection(two, 777, 1)).toBe(777);
    expect(moveSelection(two, 9106, -1)).toBe(9106);
    expect(selectedApp(two, 777)).toBe('api');
  });

  it('falls back to the first process when the selected one is gone', () => {
    expect(currentSelection(two, 4242)).toBe(9106);
    expect(selectedApp(two, 4242)).toBe('demo');
  });
});

describe('fitColumns', () => {
  it('keeps whole columns only, the most useful first, and every column at 100 columns', () => {
    const at = (width: number): string[] => fitColumns(width).map((c) => c.title);
    expect(at(100)).toEqual(['PID', 'STATE', 'CPU', 'MEM', 'REQ/S', '5XX', 'SESS', 'DONE', 'UPTIME']);
    expect(at(40)).toEqual(['PID', 'CPU', 'MEM', 'REQ/S', '5XX', 'SESS']);
    for (const width of [30, 40, 50, 60, 80]) expect(fitColumns(width).reduce((sum, c) => sum + c.width, 2)).toBeLessThanOrEqual(width);
  });
});
