// When to restart a crashed core, and when to give up (pure).

export const CRASH_WINDOW_MS = 60_000;
/** Crashes inside the window that are restarted at once. */
export const IMMEDIATE_RESTARTS = 3;
/** Crashes inside the window after which the watchdog stops trying. */
export const MAX_CRASHES_IN_WINDOW = 10;
export const MAX_RESTART_DELAY_MS = 5_000;

export type RestartDecision = { action: 'restart'; delayMs: number; recentCrashes: number } | { action: 'give-up'; recentCrashes: number };

/** `crashTimesMs` are the times of earlier crashes, including the one just seen. */
export function decideRestart(crashTimesMs: readonly number[], nowMs: number): RestartDecision {
  const recentCrashes = crashTimesMs.filter((t) => nowMs - t <= CRASH_WINDOW_MS).length;
  if (recentCrashes >= MAX_CRASHES_IN_WINDOW) return { action: 'give-up', recentCrashes };
  if (recentCrashes <= IMMEDIATE_RESTARTS) return { action: 'restart', delayMs: 0, recentCrashes };
  const delayMs = Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** (recentCrashes - IMMEDIATE_RESTARTS));
  return { action: 'restart', delayMs, recentCrashes };
}
