// Pool: every app group of the instance and the global limit on processes (max-pool-size).

import type { FerryConfig } from '../../lib/config.js';
import type { PoolResponse } from '../../lib/admin-api-contract.js';
import { CoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Spawner } from '../spawn/spawner.js';
import { AppGroup } from './app-group.js';
import type { DiagnosticsDir } from './evidence.js';
import type { WorkerProcess } from './worker.js';

export class Pool {
  readonly groups: AppGroup[];

  constructor(
    private readonly config: FerryConfig,
    spawner: Spawner,
    log: Logger,
    /** Where evidence of recycles goes (the instance's diagnostics directory). */
    diagnostics?: DiagnosticsDir,
    /** An app's variables changed (a restart read its env files again): writes the config a later core reads. */
    configChanged: () => void = () => undefined,
  ) {
    const ownFiles = [config.logFile, config.accessLog?.path].filter((file): file is string => file !== undefined && file !== '-');
    this.groups = config.apps.map((app) => new AppGroup(app, this, spawner, log.child({ component: 'pool', app: app.name }), ownFiles, diagnostics, configChanged));
  }

  get maxPoolSize(): number {
    return this.config.maxPoolSize;
  }

  get processCount(): number {
    let total = 0;
    for (const group of this.groups) total += group.processCount;
    return total;
  }

  hasCapacity(): boolean {
    return this.processCount < this.config.maxPoolSize;
  }

  /** Full pool: stop the longest-idle process that another app can spare (above its minimum). */
  makeRoom(requester: AppGroup): boolean {
    let victim: { group: AppGroup; worker: WorkerProcess } | undefined;
    for (const group of this.groups) {
      if (group === requester) continue;
      const worker = group.evictionCandidate();
      if (worker && (!victim || worker.lastUsedAtMs < victim.worker.lastUsedAtMs)) victim = { group, worker };
    }
    if (!victim) return false;
    victim.group.evict(victim.worker, requester.name);
    return true;
  }

  /**
   * The group that serves a request, by its host name as the door parsed it (authority.ts: lower
   * case, without port or brackets): the app that lists that host, else the first app that lists
   * none (the default), else none.
   */
  groupFor(hostName: string | undefined): AppGroup | undefined {
    if (this.groups.length === 1 && this.groups[0]?.app.hosts.length === 0) return this.groups[0];
    const name = hostName ?? '';
    return this.groups.find((g) => g.app.hosts.includes(name)) ?? this.groups.find((g) => g.app.hosts.length === 0);
  }

  /** The group named NAME, or whose root is NAME; the only one when no name is given. */
  findGroup(name: string | undefined): AppGroup {
    if (name === undefined || name === '') {
      if (this.groups.length === 1) return this.groups[0] as AppGroup;
    } else {
      const found = this.groups.find((g) => g.name === name || g.app.root === name);
      if (found) return found;
    }
    throw new CoreError('FERRY_ERR_APP_UNKNOWN', name ? `no app named '${name}' in this instance` : 'several apps run here; name one', {
      details: { known: this.groups.map((g) => ({ name: g.name, root: g.app.root })) },
    });
  }

  detach(pid: number): AppGroup {
    for (const group of this.groups) if (group.detach(pid)) return group;
    throw new CoreError('FERRY_ERR_PROCESS_UNKNOWN', `pid ${pid} is not a serving process of this instance`, {
      details: { known: this.groups.flatMap((g) => g.workers.filter((w) => w.state === 'ready').map((w) => w.pid)) },
    });
  }

  async start(): Promise<void> {
    await Promise.all(this.groups.map((g) => g.start()));
  }

  /** Handover to a new core: serve only; see AppGroup.freeze. */
  freeze(): void {
    for (const group of this.groups) group.freeze();
  }

  thaw(): void {
    for (const group of this.groups) group.thaw();
  }

  /** Handover done: finish this core's requests, leave the processes running for the new core. */
  async release(drainDeadlineMs: number): Promise<void> {
    await Promise.all(this.groups.map((g) => g.release(drainDeadlineMs)));
  }

  async stop(drainDeadlineMs: number, keepAdopted = false): Promise<void> {
    await Promise.all(this.groups.map((g) => g.stop(drainDeadlineMs, keepAdopted)));
  }

  inspect(nowMs = Date.now()): PoolResponse {
    const groups = this.groups.map((g) => g.inspect(nowMs));
    return {
      maxPoolSize: this.config.maxPoolSize,
      processCount: groups.reduce((n, g) => n + g.processes.length, 0),
      waiting: groups.reduce((n, g) => n + g.waiting, 0),
      groups,
    };
  }
}
