// Choosing the process for a request (pure): the least busy routable one, ties to the oldest,
// because older processes are warmer (JIT, caches) and a young one may be about to be reaped.

export interface RoutingCandidate {
  isRoutable: boolean;
  sessions: number;
  spawnedAtMs: number;
  /** Requests it takes at once; 0 = unlimited. A process at its limit is skipped. */
  concurrency: number;
}

export function chooseWorker<T extends RoutingCandidate>(workers: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const worker of workers) {
    if (!worker.isRoutable || (worker.concurrency > 0 && worker.sessions >= worker.concurrency)) continue;
    if (
      best === undefined ||
      worker.sessions < best.sessions ||
      (worker.sessions === best.sessions && worker.spawnedAtMs < best.spawnedAtMs)
    ) {
      best = worker;
    }
  }
  return best;
}

/** The process a sticky cookie names, if it is routable and has room; else the client goes elsewhere. */
export function stickyWorker<T extends RoutingCandidate & { stickyId: string }>(workers: readonly T[], stickyId: string): T | undefined {
  const worker = workers.find((w) => w.stickyId === stickyId);
  if (!worker || !worker.isRoutable) return undefined;
  return worker.concurrency > 0 && worker.sessions >= worker.concurrency ? undefined : worker;
}

/** Every routable process is busy: at its concurrency limit, or past busySessions when unlimited. */
export function allBusy(workers: readonly RoutingCandidate[], limits: { concurrency: number; busySessions: number }): boolean {
  const threshold = limits.concurrency > 0 ? limits.concurrency : limits.busySessions;
  let routable = 0;
  for (const worker of workers) {
    if (!worker.isRoutable) continue;
    routable++;
    if (worker.sessions < threshold) return false;
  }
  return routable > 0;
}
