// WorkerProcess: one running app process, its upstream connection pool and its busyness.

import { randomBytes } from 'node:crypto';
import type { ProcessSnapshot } from '../../lib/admin-api-contract.js';
import type { WorkerChild, UpstreamAddress } from '../spawn/spawner.js';
import { readProcessMetrics } from '../../lib/diagnostics/process-metrics.js';
import { UpstreamPool } from '../upstream/upstream-pool.js';
import { canMoveWorker, type WorkerState } from './worker-state.js';

export class WorkerProcess {
  private current: WorkerState = 'starting';
  /** The state it was in when it exited (set before the group hears of the exit); undefined while it runs. */
  exitedFrom: WorkerState | undefined;
  /** While starting with a readiness check: what the check got last ("503", "ECONNREFUSED"). */
  notReady: string | undefined;
  /** Requests in flight on this process right now. */
  sessions = 0;
  /** Requests it has finished. */
  processed = 0;
  spawnedAtMs = Date.now();
  /** Spawned by an earlier core of the instance and taken over by this one. */
  adopted = false;
  lastUsedAtMs = Date.now();
  /** Requests after which it is replaced (--max-requests, plus its share of --max-requests-jitter); 0 = never. */
  maxRequests = 0;
  /** Its last lines of output, oldest first, when the spawner keeps them. */
  recentOutput: (() => string[]) | undefined;
  /** Consecutive memory checks it was over memory-limit (see memoryExcess). */
  memoryOverChecks = 0;
  /** Kept-alive connections to this process only, so its death closes exactly its own sockets. */
  readonly upstream: UpstreamPool;
  readonly exited: Promise<void>;
  /** Value of the sticky-session cookie that routes back to this process. */
  readonly stickyId = randomBytes(6).toString('hex');

  constructor(
    readonly app: string,
    readonly pid: number,
    readonly address: UpstreamAddress,
    readonly child: WorkerChild,
    readonly spawnDurationMs: number,
    /** The restart generation of its group it was spawned in. */
    readonly generation = 0,
    /** Requests it takes at once; 0 = unlimited. */
    readonly concurrency = 0,
    /** Node apps: where its inspector listens once opened (for the JS stack of a stuck process). */
    readonly inspectorUrl?: () => string | undefined,
  ) {
    // As many connections as requests in flight; no time limits in the transport: those belong to
    // the pool (max-request-time).
    this.upstream = new UpstreamPool(address);
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        this.exitedFrom = this.current;
        resolve();
      } else {
        // Registered before the group's own exit listener, so it sees the state the process left.
        child.once('exit', () => {
          this.exitedFrom = this.current;
          resolve();
        });
      }
    });
  }

  /** See WorkerState; changed only through moveTo. */
  get state(): WorkerState {
    return this.current;
  }

  /** Moves to `next` if WORKER_TRANSITIONS allows it from here; false (and no change) otherwise. */
  moveTo(next: WorkerState): boolean {
    if (!canMoveWorker(this.current, next)) return false;
    this.current = next;
    return true;
  }

  get isRoutable(): boolean {
    return this.state === 'ready';
  }

  inspect(nowMs = Date.now()): ProcessSnapshot {
    return {
      pid: this.pid,
      state: this.state,
      sessions: this.sessions,
      processed: this.processed,
      generation: this.generation,
      spawnedAt: new Date(this.spawnedAtMs).toISOString(),
      uptimeMs: nowMs - this.spawnedAtMs,
      lastUsedAt: new Date(this.lastUsedAtMs).toISOString(),
      spawnDurationMs: this.spawnDurationMs,
      ...(this.maxRequests > 0 ? { maxRequests: this.maxRequests } : {}),
      ...(this.state === 'starting' && this.notReady !== undefined ? { notReady: this.notReady } : {}),
      ...readProcessMetrics(this.pid),
    };
  }
}
