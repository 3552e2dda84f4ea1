// Spawning for one app group: new processes when the group needs them and the pool has room,
// one at a time beyond the minimum, after a backoff when the app keeps failing (SpawnBackoff).
// What a new process means for the group (routing, restarts) is the group's: see SpawningHost.

import type { AppConfig } from '../../lib/config.js';
import type { Logger } from '../log.js';
import type { SpawnError } from '../spawn/spawn-error.js';
import type { SpawnedWorker, Spawner } from '../spawn/spawner.js';
import type { AppStats } from './app-stats.js';
import { SpawnBackoff } from './spawn-backoff.js';
import type { WorkerProcess } from './worker.js';

export interface SpawningHost {
  readonly app: AppConfig;
  readonly log: Logger;
  readonly stats: AppStats;
  /** The group's phase lets it spawn (not adopting, handing over or stopping). */
  maySpawn(): boolean;
  /** One more process is wanted now (the spawns under way count as processes). */
  needsProcess(): boolean;
  /** The pool has room for one more process (it may stop another app's idle one for it). */
  roomForOne(): boolean;
  /** The restart generation a spawn begun now belongs to. */
  generation(): number;
  /** A spawn failed, the backoff is set: the group says so to restarts and waiting requests. */
  spawnFailed(err: SpawnError, backoffMs: number): void;
  /** A spawn of `generation` succeeded: the group takes the process in. */
  spawned(spawned: SpawnedWorker, generation: number, backoffEnded: boolean): WorkerProcess;
}

export class Spawning {
  /** Spawns under way: they count against the pool size. */
  inFlight = 0;
  readonly backoff = new SpawnBackoff();
  /** Spawns under way, so a stop can wait for them instead of leaving them to the watchdog. */
  private readonly pending = new Set<Promise<WorkerProcess>>();
  /** Set while a backoff delays the next spawn. */
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly spawner: Spawner,
    private readonly host: SpawningHost,
  ) {}

  /** Spawns while the group needs processes and the pool has room (or later, after a backoff). */
  ensure(): void {
    if (!this.host.maySpawn() || this.retryTimer || !this.host.needsProcess()) return;
    const delayMs = Math.max(0, this.backoff.leftMs());
    if (delayMs > 0) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.ensure();
      }, delayMs);
      return;
    }
    // spawnOne counts itself in `inFlight` synchronously, so this loop ends.
    while (this.host.needsProcess() && this.host.roomForOne()) this.spawnOne().catch(() => undefined); // logged in doSpawn
  }

  /** A restart, a handover or a stop: no delayed spawn is left waiting. */
  cancelRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Resolves once every spawn under way has ended, or at the deadline. */
  async settled(deadlineMs: number): Promise<void> {
    let deadlineTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.pending]),
      new Promise((resolve) => (deadlineTimer = setTimeout(resolve, Math.max(0, deadlineMs - Date.now())))),
    ]);
    clearTimeout(deadlineTimer);
  }

  spawnOne(): Promise<WorkerProcess> {
    const spawn = this.doSpawn();
    this.pending.add(spawn);
    const forget = (): void => {
      this.pending.delete(spawn);
    };
    spawn.then(forget, forget);
    return spawn;
  }

  private async doSpawn(): Promise<WorkerProcess> {
    this.inFlight++;
    const generation = this.host.generation();
    const startedAtMs = Date.now();
    let spawned: SpawnedWorker;
    try {
      spawned = await this.spawner.spawn(this.host.app);
    } catch (err) {
      const spawnError = err as SpawnError;
      this.host.stats.spawnFailures++;
      const { failures, backoffMs } = this.backoff.spawnFailed(spawnError, startedAtMs);
      // The app's own output is in the log already, line by line, and the stack of a SpawnError
      // is Ferry's, not the app's: log the one-line reason. An internal failure is Ferry's: all of it.
      const { outputTail, ...facts } = spawnError.failure;
      const internal = facts.category === 'internal';
      const logged = internal ? spawnError : { type: spawnError.name, message: spawnError.message, code: spawnError.code };
      this.host.log.error('could not spawn app process', { err: logged, failures, retryInMs: backoffMs, ...facts, ...(internal ? { outputTail } : {}) });
      this.inFlight--;
      this.host.spawnFailed(spawnError, backoffMs);
      this.ensure();
      throw err;
    }
    this.inFlight--;
    this.host.stats.spawns++;
    // The app starts again, so what is left of a backoff for failed spawns no longer holds: a
    // process needed now (the minimum, a replacement) must not wait for it, with requests queued
    // behind it. A backoff for processes that died young holds until one lives long enough.
    const backoffEnded = this.backoff.spawnSucceeded() && this.retryTimer !== undefined;
    if (backoffEnded) {
      this.cancelRetry();
      this.backoff.nextSpawnAllowedAtMs = 0;
    }
    return this.host.spawned(spawned, generation, backoffEnded);
  }
}
