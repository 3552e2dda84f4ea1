// WorkerProcess: one running app process, its upstream connection pool and its busyness.

import type { ChildProcess } from 'node:child_process';
import { Pool as UpstreamPool } from 'undici';

export type WorkerState =
  /** Accepting new requests. */
  | 'ready'
  /** Taken out of rotation; finishing the requests it has, then it will be stopped. */
  | 'draining'
  /** Asked to exit (SIGTERM sent); waiting for it to go. */
  | 'stopping'
  /** Exited; kept only until the group forgets it. */
  | 'dead';

export class WorkerProcess {
  state: WorkerState = 'ready';
  /** Requests in flight on this process right now. */
  sessions = 0;
  /** Requests it has finished. */
  processed = 0;
  readonly spawnedAtMs = Date.now();
  lastUsedAtMs = Date.now();
  /** Kept-alive connections to this process only, so its death closes exactly its own sockets. */
  readonly upstream: UpstreamPool;
  readonly exited: Promise<void>;

  constructor(
    readonly app: string,
    readonly pid: number,
    readonly socketPath: string,
    readonly child: ChildProcess,
    readonly spawnDurationMs: number,
  ) {
    this.upstream = new UpstreamPool('http://localhost', {
      socketPath,
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

  get isRoutable(): boolean {
    return this.state === 'ready';
  }

  inspect(): WorkerSnapshot {
    return {
      pid: this.pid,
      state: this.state,
      sessions: this.sessions,
      processed: this.processed,
      spawnedAt: new Date(this.spawnedAtMs).toISOString(),
      lastUsedAt: new Date(this.lastUsedAtMs).toISOString(),
      spawnDurationMs: this.spawnDurationMs,
    };
  }
}

export interface WorkerSnapshot {
  pid: number;
  state: WorkerState;
  sessions: number;
  processed: number;
  spawnedAt: string;
  lastUsedAt: string;
  spawnDurationMs: number;
}
