// SpawnBackoff: how long an app that keeps failing waits before its next spawn, and the last
// spawn error (shown by status and on error pages).
//
// Two kinds of failure make the group back off, and each has its own proof of recovery: spawns
// that failed in a row end with a spawn that succeeds; processes that died young (a crash loop,
// where every spawn succeeds) end only with one that lived STABLE_UPTIME_MS.

import type { SpawnError } from '../spawn/spawn-error.js';

/** A process that dies younger than this counts as a failure for backoff. */
export const STABLE_UPTIME_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;

/** Delay before the next spawn after `failures` consecutive failures (pure). */
export function spawnBackoffMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(MAX_BACKOFF_MS, 500 * 2 ** (failures - 1));
}

export class SpawnBackoff {
  private spawnFailures = 0;
  private earlyExits = 0;
  nextSpawnAllowedAtMs = 0;
  lastSpawnError: SpawnError | undefined;
  lastSpawnErrorAtMs = 0;

  /** A spawn started at `startedAtMs` failed; returns the failures counted and the backoff now set. */
  spawnFailed(err: SpawnError, startedAtMs: number): { failures: number; backoffMs: number } {
    // Spawns started together (the minimum, at start or after a backoff) that fail count once:
    // one more round failed, so the backoff doubles once, not once per process.
    if (startedAtMs > this.lastSpawnErrorAtMs) this.spawnFailures++;
    this.lastSpawnError = err;
    this.lastSpawnErrorAtMs = Date.now();
    const failures = this.spawnFailures + this.earlyExits;
    const backoffMs = spawnBackoffMs(failures);
    this.nextSpawnAllowedAtMs = Date.now() + backoffMs;
    return { failures, backoffMs };
  }

  /**
   * A spawn succeeded. True when what is left of the backoff no longer holds (it was for failed
   * spawns, not for processes dying young), so a process needed now need not wait for it.
   */
  spawnSucceeded(): boolean {
    this.lastSpawnError = undefined;
    this.spawnFailures = 0;
    return this.earlyExits === 0;
  }

  /** A process exited unexpectedly after `uptimeMs`. */
  unexpectedExit(uptimeMs: number): void {
    if (uptimeMs < STABLE_UPTIME_MS) {
      this.earlyExits++;
      this.nextSpawnAllowedAtMs = Date.now() + spawnBackoffMs(this.spawnFailures + this.earlyExits);
    } else {
      this.earlyExits = 0;
    }
  }

  /** A restart is an operator's fresh attempt: no backoff left over from earlier failures. */
  reset(): void {
    this.spawnFailures = 0;
    this.earlyExits = 0;
    this.nextSpawnAllowedAtMs = 0;
  }

  leftMs(nowMs = Date.now()): number {
    return this.nextSpawnAllowedAtMs - nowMs;
  }

  /** The last spawn failed and the backoff still runs (status shows 'backoff'). */
  get backingOff(): boolean {
    return this.lastSpawnError !== undefined && this.nextSpawnAllowedAtMs > Date.now();
  }
}
