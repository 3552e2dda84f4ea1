import { describe, expect, it } from 'vitest';
import {
  CRASH_WINDOW_MS,
  IMMEDIATE_RESTARTS,
  MAX_CRASHES_IN_WINDOW,
  MAX_RESTART_DELAY_MS,
  decideRestart,
} from '../../../../src/core/watchdog/restart-policy.js';

const NOW = 1_000_000;

/** `count` crashes, one second apart, the last one at NOW. */
function crashes(count: number): number[] {
  return Array.from({ length: count }, (_, i) => NOW - (count - 1 - i) * 1000);
}

describe('decideRestart', () => {
  it('restarts at once for the first crashes in the window', () => {
    for (let count = 1; count <= IMMEDIATE_RESTARTS; count++) {
      expect(decideRestart(crashes(count), NOW)).toEqual({ action: 'restart', delayMs: 0, recentCrashes: count });
    }
  });

  it('doubles the delay for each crash after the immediate ones', () => {
    const delays = [4, 5, 6, 7, 8].map((count) => {
      const decision = decideRestart(crashes(count), NOW);
      return decision.action === 'restart' ? decision.delayMs : -1;
    });
    expect(delays).toEqual([200, 400, 800, 1600, 3200]);
  });

  it('caps the delay at MAX_RESTART_DELAY_MS', () => {
    expect(decideRestart(crashes(MAX_CRASHES_IN_WINDOW - 1), NOW)).toEqual({
      action: 'restart',
      delayMs: MAX_RESTART_DELAY_MS,
      recentCrashes: MAX_CRASHES_IN_WINDOW - 1,
    });
  });

  it('gives up once MAX_CRASHES_IN_WINDOW crashes fall inside the window', () => {
    expect(decideRestart(crashes(MAX_CRASHES_IN_WINDOW), NOW)).toEqual({ action: 'give-up', recentCrashes: MAX_CRASHES_IN_WINDOW });
    expect(decideRestart(crashes(MAX_CRASHES_IN_WINDOW + 5), NOW)).toEqual({ action: 'give-up', recentCrashes: MAX_CRASHES_IN_WINDOW + 5 });
  });

  it('does not count crashes older than the window', () => {
    const old = Array.from({ length: 20 }, (_, i) => NOW - CRASH_WINDOW_MS - 1 - i * 1000);
    expect(decideRestart([...old, NOW], NOW)).toEqual({ action: 'restart', delayMs: 0, recentCrashes: 1 });
  });

  it('counts a crash exactly one window old as recent', () => {
    const decision = decideRestart([NOW - CRASH_WINDOW_MS, NOW - 2, NOW - 1, NOW], NOW);
    expect(decision).toEqual({ action: 'restart', delayMs: 200, recentCrashes: 4 });
  });
});
