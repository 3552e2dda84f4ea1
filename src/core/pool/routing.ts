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
