// Maintenance of an app group on timers: idle processes beyond the minimum are reaped after
// pool-idle-time, processes over memory-limit for --memory-limit-checks checks in a row are replaced, and tmp/restart.txt and
// tmp/always_restart.txt (Passenger's convention) are watched.

import fs from 'node:fs';
import path from 'node:path';
import type { AppConfig } from '../../lib/config.js';
import { readProcessMetrics } from '../../lib/diagnostics/process-metrics.js';
import type { WorkerProcess } from './worker.js';

/** How often memory limits and tmp/restart.txt are checked. */
const MAINTENANCE_INTERVAL_MS = 2_000;

/** Ready processes that had no request for idleMs, longest idle first (pure). */
export function idleWorkers(workers: readonly WorkerProcess[], nowMs: number, idleMs: number): WorkerProcess[] {
  return workers.filter((w) => w.state === 'ready' && w.sessions === 0 && nowMs - w.lastUsedAtMs >= idleMs).sort((a, b) => a.lastUsedAtMs - b.lastUsedAtMs);
}

/** What a process uses against memory-limit: private dirty plus swap, else RSS; null if unreadable (it is gone). */
export function memoryUsedBytes(pid: number): number | null {
  const m = readProcessMetrics(pid);
  return m.privateDirtyBytes !== null ? m.privateDirtyBytes + (m.swapBytes ?? 0) : m.rssBytes;
}

/**
 * One memory check of one process (pure): its run of consecutive checks over the limit, and
 * whether the run is long enough (`checks`, --memory-limit-checks) to recycle it. One sample
 * within the limit ends the run: a passing peak (a big upload, a report) is no leak. A sample
 * that could not be read neither counts nor ends it.
 */
export function memoryExcess(overChecks: number, usedBytes: number | null, limitBytes: number, checks: number): { overChecks: number; recycle: boolean } {
  if (usedBytes === null) return { overChecks, recycle: false };
  if (usedBytes <= limitBytes) return { overChecks: 0, recycle: false };
  return { overChecks: overChecks + 1, recycle: overChecks + 1 >= checks };
}

/** Checks every ready process against the limit, keeping each one's run on it; those over it now, with the verdict. */
export function checkMemory(workers: readonly WorkerProcess[], limitBytes: number, checks: number): { worker: WorkerProcess; usedBytes: number; overChecks: number; recycle: boolean }[] {
  const over: { worker: WorkerProcess; usedBytes: number; overChecks: number; recycle: boolean }[] = [];
  for (const worker of workers) {
    if (worker.state !== 'ready') continue;
    const usedBytes = memoryUsedBytes(worker.pid);
    const verdict = memoryExcess(worker.memoryOverChecks, usedBytes, limitBytes, checks);
    worker.memoryOverChecks = verdict.overChecks;
    if (usedBytes !== null && verdict.overChecks > 0) over.push({ worker, usedBytes, ...verdict });
  }
  return over;
}

/**
 * tmp/restart.txt restarts the app when its mtime changes; tmp/always_restart.txt, while it
 * exists, restarts it on every request. lstat, not stat: root does not follow a link the app's
 * user put there (its restarts would tell whether, and when, a file only root can see changed); a
 * link counts by its own mtime (touch -h).
 */
export class RestartFileWatcher {
  /** Set while tmp/always_restart.txt exists. */
  alwaysRestart = false;
  /** mtime of tmp/restart.txt when last seen (null: absent); undefined until the first look. */
  private mtimeMs: number | undefined | null;

  constructor(private readonly appRoot: string) {}

  /** Looks again; true when restart.txt changed since the last look (the first look is a baseline). */
  async changed(): Promise<boolean> {
    this.alwaysRestart = await fs.promises.lstat(path.join(this.appRoot, 'tmp', 'always_restart.txt')).then(
      () => true,
      () => false,
    );
    let mtimeMs: number | null;
    try {
      mtimeMs = (await fs.promises.lstat(path.join(this.appRoot, 'tmp', 'restart.txt'))).mtimeMs;
    } catch {
      mtimeMs = null;
    }
    const seen = this.mtimeMs;
    this.mtimeMs = mtimeMs;
    return seen !== undefined && mtimeMs !== null && mtimeMs !== seen;
  }
}

/** The two timers: idle reaping (if pool-idle-time is set) and the periodic checks. */
export class MaintenanceTimers {
  private idleTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly app: AppConfig,
    private readonly reapIdle: () => void,
    private readonly check: () => void,
  ) {}

  start(): void {
    this.stop();
    const idleMs = this.app.limits.poolIdleTimeMs;
    if (idleMs > 0) {
      // Check often enough that an idle process goes within ~10% of its idle time (at most every 5 s).
      this.idleTimer = setInterval(this.reapIdle, Math.max(100, Math.min(5_000, Math.floor(idleMs / 10))));
      this.idleTimer.unref();
    }
    this.checkTimer = setInterval(this.check, MAINTENANCE_INTERVAL_MS);
    this.checkTimer.unref();
  }

  stop(): void {
    clearInterval(this.idleTimer);
    clearInterval(this.checkTimer);
    this.idleTimer = this.checkTimer = undefined;
  }
}
