// Restarts of an app group: every process replaced by one of a new generation, either blocking
// (all old ones leave rotation at once and drain while new ones spawn) or rolling (one at a time,
// each old process leaves only once its replacement serves, and the restart stops, keeping the old
// ones, if a replacement fails). A restart is done when no older process is left and the minimum
// of new ones serves.

import type { GroupSnapshot } from '../../lib/admin-api-contract.js';
import type { Logger } from '../log.js';
import type { WorkerProcess } from './worker.js';

export interface RestartInfo {
  rolling: boolean;
  generation: number;
  startedAtMs: number;
  /** Why a new process failed: a rolling restart stopped there (old ones keep serving); a blocking one retries in backoff. */
  failed?: string;
}

export interface RestartHost {
  readonly log: Logger;
  readonly minInstances: number;
  readonly workers: readonly WorkerProcess[];
  isStopping(): boolean;
  spawnOne(): Promise<WorkerProcess>;
  /** Out of rotation, drained, stopped (its requests finish first). */
  retire(worker: WorkerProcess): void;
  ensureProcesses(): void;
}

export class Restarts {
  /** Bumped by every restart; processes spawned after it carry the new number. */
  generation = 0;
  /** The restart under way (or failed and shown as such); undefined when none. */
  current: RestartInfo | undefined;
  /** Callers of settled() waiting for the restart under way to end. */
  private settledWaiters: (() => void)[] = [];

  constructor(private readonly host: RestartHost) {}

  /**
   * Resolves once no restart is under way: it finished or failed, or a process of the group failed
   * to start (the group backs off; a new restart is a fresh attempt, so waiting on is pointless).
   */
  settled(): Promise<void> {
    if (!this.inProgress) return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  private wakeSettled(): void {
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Begins a restart of the ready processes; the caller has reset the backoff. */
  begin(rolling: boolean): { generation: number; replacing: number[] } {
    this.generation++;
    const generation = this.generation;
    const old = this.host.workers.filter((w) => w.state === 'ready');
    this.current = { rolling, generation, startedAtMs: Date.now() };
    const replacing = old.map((w) => w.pid);
    this.host.log.info(rolling ? 'rolling restart' : 'restart', { generation, replacing });
    if (rolling) {
      void this.rollOver(old, generation);
    } else {
      for (const worker of old) this.host.retire(worker);
      this.host.ensureProcesses();
    }
    this.checkDone();
    return { generation, replacing };
  }

  private superseded(generation: number): boolean {
    return this.host.isStopping() || this.generation !== generation;
  }

  private async rollOver(old: WorkerProcess[], generation: number): Promise<void> {
    for (const worker of old) {
      if (this.superseded(generation)) return;
      if (worker.state !== 'ready') continue;
      try {
        await this.host.spawnOne();
      } catch (err) {
        const reason = (err as Error).message;
        if (this.current?.generation === generation) this.current.failed = reason;
        this.host.log.error('rolling restart stopped: a new process failed to start; the old processes keep serving', { generation, reason, keptPids: old.filter((w) => w.state === 'ready').map((w) => w.pid) });
        this.wakeSettled();
        return;
      }
      // A newer restart may have begun while this replacement started; it owns the old processes now.
      if (this.superseded(generation)) return;
      this.host.retire(worker);
    }
    // A group that had fewer processes than its minimum (say, in backoff) is topped up too.
    this.host.ensureProcesses();
    this.checkDone();
  }

  /**
   * A spawn failed. A blocking restart has nothing to fall back on: it failed, and says why
   * (status, --wait), rather than "restarting" for ever. A rolling one records its own failure.
   */
  spawnFailed(message: string): void {
    if (this.current && !this.current.rolling && !this.current.failed) this.current.failed = message;
    this.wakeSettled();
  }

  /** A spawn of `generation` succeeded: a failed blocking restart that this retry serves goes on. */
  spawnSucceeded(generation: number): void {
    const info = this.current;
    if (info?.failed && !info.rolling && generation >= info.generation) delete info.failed;
  }

  /** Shows 'restarting': under way and not failed. */
  get inProgress(): boolean {
    return this.current !== undefined && !this.current.failed;
  }

  /** Ends the restart when no process of an older generation is left and the minimum serves. */
  checkDone(): void {
    const info = this.current;
    if (!info || info.failed) return;
    const workers = this.host.workers;
    const oldLeft = workers.some((w) => w.generation < info.generation);
    const newReady = workers.filter((w) => w.generation >= info.generation && w.state === 'ready').length;
    if (!oldLeft && newReady >= this.host.minInstances) {
      this.host.log.info('restart finished', { generation: info.generation, durationMs: Date.now() - info.startedAtMs });
      this.current = undefined;
      this.wakeSettled();
    }
  }

  snapshot(): GroupSnapshot['restart'] {
    const info = this.current;
    if (!info) return undefined;
    const restart: NonNullable<GroupSnapshot['restart']> = { rolling: info.rolling, generation: info.generation, startedAt: new Date(info.startedAtMs).toISOString() };
    if (info.failed) restart.failed = info.failed;
    return restart;
  }
}
