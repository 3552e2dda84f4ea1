// FakeSpawner: a Spawner test double that starts no process, with knobs for delay, failure, hanging and exits.

import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { AppConfig } from '../../lib/config.js';
import { SpawnError } from './spawn-error.js';
import type { SpawnedWorker, Spawner, UpstreamAddress } from './spawner.js';

/**
 * Fake pids start above Linux's PID_MAX_LIMIT (4,194,304), so no real process can ever have one:
 * a signal sent to one (or to its group) fails with ESRCH, which signalQuietly swallows.
 */
export const FAKE_PID_BASE = 4_200_000;

export type FakeSpawnFailure = 'exited-before-ready' | 'timeout';

/** The part of a ChildProcess an AppGroup uses: `pid`, `exitCode`, `signalCode` and the 'exit' event. */
export class FakeChild extends EventEmitter {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;

  constructor(readonly pid: number) {
    super();
  }

  get hasExited(): boolean {
    return this.exitCode !== null || this.signalCode !== null;
  }

  /** Exits like a real child: the codes are set first, then 'exit' is emitted once. */
  exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.hasExited) return;
    this.exitCode = signal ? null : (code ?? 0);
    this.signalCode = signal;
    this.emit('exit', this.exitCode, this.signalCode);
  }
}

export class FakeSpawner implements Spawner {
  /** How long each spawn takes before it succeeds or fails. */
  delayMs = 0;
  /** Calls to spawn(), whatever their outcome. */
  spawnCalls = 0;
  /** Spawns that succeeded. */
  spawnedCount = 0;
  /** Spawns that failed (through failNext). */
  failedCount = 0;
  /** Spawns under way right now. */
  inFlight = 0;
  /** The most spawns that were ever under way at once. */
  maxConcurrentSpawns = 0;
  /** Where a spawned process is said to listen: by default a path where nothing does; a test's in-process app server otherwise. */
  addressFor: (app: AppConfig, pid: number) => UpstreamAddress = (app, pid) => ({ socketPath: `/nonexistent/ferry-fake/${app.name}.${pid}.sock` });
  /** Every child handed out, by pid, including those that have exited. */
  readonly children = new Map<number, FakeChild>();

  private nextPid = FAKE_PID_BASE;
  /** Processes an earlier core left running, for the next adopt() to hand over. */
  private readonly leftBehind: number[] = [];
  private readonly failures: FakeSpawnFailure[] = [];
  private hanging = false;
  private readonly held: (() => void)[] = [];

  /** Starts `count` fake processes as if an earlier core had spawned them and then crashed. */
  leaveBehind(count: number): void {
    for (let i = 0; i < count; i++) {
      const pid = this.nextPid++;
      this.children.set(pid, new FakeChild(pid));
      this.leftBehind.push(pid);
    }
  }

  /** Hands over what leaveBehind started; like the real one (which probes sockets), never synchronously. */
  async adopt(app: AppConfig): Promise<SpawnedWorker[]> {
    await Promise.resolve();
    return this.leftBehind.splice(0).map((pid) => ({
      pid,
      address: { socketPath: `/nonexistent/ferry-fake/${app.name}.${pid}.sock` },
      child: this.children.get(pid) as unknown as ChildProcess,
      spawnDurationMs: 0,
    }));
  }

  /** Makes the next `count` calls to spawn() fail with `category`. */
  failNext(count: number, category: FakeSpawnFailure): void {
    for (let i = 0; i < count; i++) this.failures.push(category);
  }

  /** From now on, spawns wait (after their delay) until release() is called. */
  hang(): void {
    this.hanging = true;
  }

  /** Spawns held by hang() right now. */
  get heldCount(): number {
    return this.held.length;
  }

  /** Stops hanging and lets every held spawn finish. */
  release(): void {
    this.hanging = false;
    for (const resume of this.held.splice(0)) resume();
  }

  /** Pids of the children that have not exited, oldest first. */
  get livePids(): number[] {
    return [...this.children.values()].filter((c) => !c.hasExited).map((c) => c.pid);
  }

  /** Makes one fake process exit, as if it died or obeyed a signal. */
  exit(pid: number, code: number | null = 0, signal: NodeJS.Signals | null = null): void {
    const child = this.children.get(pid);
    if (!child) throw new Error(`FakeSpawner: no fake process with pid ${pid}`);
    child.exit(code, signal);
  }

  /** Makes every live fake process exit (for example once a stop has begun). */
  exitAll(code: number | null = 0, signal: NodeJS.Signals | null = null): void {
    for (const pid of this.livePids) this.exit(pid, code, signal);
  }

  async spawn(app: AppConfig): Promise<SpawnedWorker> {
    const startedAt = Date.now();
    const failure = this.failures.shift();
    this.spawnCalls++;
    this.inFlight++;
    this.maxConcurrentSpawns = Math.max(this.maxConcurrentSpawns, this.inFlight);
    try {
      // Like a real spawn, never settle synchronously, so that spawns started together overlap.
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      else await Promise.resolve();
      if (this.hanging) await new Promise<void>((resolve) => this.held.push(resolve));
      const pid = this.nextPid++;
      if (failure) {
        this.failedCount++;
        throw new SpawnError(
          {
            category: failure,
            step: 'load',
            app: app.name,
            pid,
            exitCode: failure === 'exited-before-ready' ? 1 : undefined,
            signal: null,
            outputTail: failure === 'exited-before-ready' ? 'Error: fake boot failure\n' : '',
            durationMs: Date.now() - startedAt,
          },
          app.startTimeoutMs,
        );
      }
      const child = new FakeChild(pid);
      this.children.set(pid, child);
      this.spawnedCount++;
      return {
        pid,
        address: this.addressFor(app, pid),
        child: child as unknown as ChildProcess,
        spawnDurationMs: Date.now() - startedAt,
      };
    } finally {
      this.inFlight--;
    }
  }
}
