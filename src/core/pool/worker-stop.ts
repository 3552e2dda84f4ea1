// Taking a worker out of the pool: drained (its requests finish, up to a deadline) then stopped
// (SIGTERM, SIGKILL to its group if it lingers); or killed at once when it is stuck.

import { signalQuietly } from '../../lib/units.js';
import type { WorkerProcess } from './worker.js';

const DRAIN_POLL_MS = 20;
const KILL_AFTER_TERM_MS = 5_000;

/**
 * Waits until `done()` holds (or the deadline), polling; for drains, which have no event to wait
 * on. Undefined when it holds already, so that a caller goes on synchronously: state changes that
 * follow a drain of an idle process then happen at once, not a tick later.
 */
export function pollUntil(done: () => boolean, deadlineMs = Infinity): Promise<void> | undefined {
  if (done() || Date.now() >= deadlineMs) return undefined;
  return (async () => {
    while (!done() && Date.now() < deadlineMs) await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
  })();
}

/**
 * Out of rotation at once, requests finish until the deadline, then SIGTERM (SIGKILL after
 * KILL_AFTER_TERM_MS). `leaving` tells the spawner, so a core taking over does not adopt it.
 * Does nothing for a worker already leaving. `beforeDrain` runs once it is out of rotation (the
 * evidence of a recycle); the time it takes does not count against the drain.
 */
export async function drainAndStop(worker: WorkerProcess, drainDeadlineMs: number, leaving: (pid: number) => void, beforeDrain?: () => Promise<void>): Promise<void> {
  if (!worker.moveTo('draining')) return;
  leaving(worker.pid);
  if (beforeDrain) {
    const startedAt = Date.now();
    await beforeDrain();
    drainDeadlineMs += Date.now() - startedAt;
  }
  const draining = pollUntil(() => worker.sessions === 0 || worker.state !== 'draining', drainDeadlineMs);
  if (draining) await draining;
  // Killed meanwhile (stuck, see killStuck) or gone: nothing left to do here.
  if (!worker.moveTo('stopping')) return;
  signalQuietly(worker.pid, 'SIGTERM');
  const killTimer = setTimeout(() => signalQuietly(-worker.pid, 'SIGKILL'), KILL_AFTER_TERM_MS);
  await worker.exited;
  clearTimeout(killTimer);
}
