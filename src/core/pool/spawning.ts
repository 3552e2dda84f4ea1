// Spawning for one app group: new processes when the group needs them and the pool has room,
// one at a time beyond the minimum, after a backoff when the app keeps failing (SpawnBackoff).
// A spawn ends once the process listens or, with --readiness-path, once that answers 2xx; a
// readiness check that fails is a failed spawn like any other (same backoff).
// What a new process means for the group (routing, restarts) is the group's: see SpawningHost.

import type { AppConfig, ReadinessCheck } from '../../lib/config.js';
import { signalQuietly } from '../../lib/units.js';
import type { Logger } from '../log.js';
import { byHandCommand, SpawnError, type SpawnFailure } from '../spawn/spawn-error.js';
import type { SpawnedWorker, Spawner } from '../spawn/spawner.js';
import type { AppStats } from './app-stats.js';
import { awaitReadiness } from './readiness.js';
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
  /** A process of `generation` listens: the group follows it from now on, in state 'starting' (out of rotation). */
  listened(spawned: SpawnedWorker, generation: number): WorkerProcess;
  /** A spawn of `generation` succeeded (the process listens, and passed its readiness check): the group puts it in rotation. */
  spawned(worker: WorkerProcess, generation: number, backoffEnded: boolean): void;
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
    let worker: WorkerProcess;
    try {
      worker = this.host.listened(await this.spawner.spawn(this.host.app), generation);
      const readiness = this.host.app.readiness;
      if (readiness) await this.awaitReady(worker, readiness);
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
    this.host.spawned(worker, generation, backoffEnded);
    return worker;
  }

  /** Resolves once the process answered its readiness check; else kills it and throws the SpawnError that says why. */
  private async awaitReady(worker: WorkerProcess, check: ReadinessCheck): Promise<void> {
    const startedAtMs = Date.now();
    const outcome = await awaitReadiness(worker, this.host.app, check);
    if (outcome.kind === 'ready') {
      this.spawner.markReady?.(worker.pid);
      this.host.log.info('app process ready: its readiness check answered 2xx', { appPid: worker.pid, path: check.path, readinessMs: Date.now() - startedAtMs });
      return;
    }
    if (outcome.kind === 'left') return; // the group stopped it meanwhile; spawned() sees to the rest
    const app = this.host.app;
    const facts: Omit<SpawnFailure, 'category'> = {
      step: 'ready',
      app: app.name,
      pid: worker.pid,
      // The app's output is in the log, line by line; the pool does not keep a tail of it.
      outputTail: '',
      durationMs: Date.now() - worker.spawnedAtMs,
      byHand: byHandCommand(app),
      readiness: { path: check.path, timeoutMs: check.timeoutMs, last: outcome.last },
    };
    if (outcome.kind === 'exited') throw new SpawnError({ ...facts, category: 'exited-before-ready', exitCode: worker.child.exitCode, signal: worker.child.signalCode }, app.startTimeoutMs);
    // As a process that never listened: out of the way at once, with everything it spawned.
    worker.moveTo('stopping');
    this.spawner.markLeaving?.(worker.pid);
    signalQuietly(-worker.pid, 'SIGKILL');
    throw new SpawnError({ ...facts, category: 'not-ready' }, app.startTimeoutMs);
  }
}
