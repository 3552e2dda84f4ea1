// WorkerProcess: one running app process, its upstream connection pool and its busyness.

import { randomBytes } from 'node:crypto';
import type { ProcessSnapshot } from '../../lib/admin-api-contract.js';
import type { WorkerChild, UpstreamAddress } from '../spawn/spawner.js';
import { readProcessMetrics } from '../../lib/diagnostics/process-metrics.js';
import { canMoveWorker, type WorkerState } from './worker-state.js';
import type { Pool as UndiciPool } from 'undici';
import UpstreamPool from 'undici/lib/dispatcher/pool.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import requestApi from 'undici/lib/api/index.js';

// Only undici's Pool and its request API, not its index: the index loads fetch, WebSocket,
// caches and more, ~150 ms of the core's start-up, which is time a restarted core keeps clients
// waiting. The index would add the API (request() for out-of-band work) to Dispatcher; so do we.
// Static imports (not createRequire) so that the single executable's bundler follows them.
Object.assign(Dispatcher.prototype, requestApi);

export class WorkerProcess {
  private current: WorkerState = 'ready';
  /** Requests in flight on this process right now. */
  sessions = 0;
  /** Requests it has finished. */
  processed = 0;
  spawnedAtMs = Date.now();
  /** Spawned by an earlier core of the instance and taken over by this one. */
  adopted = false;
  lastUsedAtMs = Date.now();
  /** Kept-alive connections to this process only, so its death closes exactly its own sockets. */
  readonly upstream: UndiciPool;
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
    const origin = 'socketPath' in address ? 'http://localhost' : `http://${address.host}:${address.port}`;
    this.upstream = new UpstreamPool(origin, {
      ...('socketPath' in address ? { socketPath: address.socketPath } : {}),
      // As many connections as requests in flight: Node apps have no concurrency limit to respect.
      connections: null,
      pipelining: 1,
      // Request time limits belong to the pool (max-request-time), not to the transport.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
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
      ...readProcessMetrics(this.pid),
    };
  }
}
