// Pool: every app group of the instance and the global limit on processes (max-pool-size).

import type { FerryConfig } from '../../lib/config.js';
import type { PoolResponse } from '../../lib/admin-api-contract.js';
import { CoreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Spawner } from '../spawn/spawner.js';
import { AppGroup } from './app-group.js';

export class Pool {
  readonly groups: AppGroup[];

  constructor(
    private readonly config: FerryConfig,
    spawner: Spawner,
    log: Logger,
  ) {
    this.groups = config.apps.map((app) => new AppGroup(app, this, spawner, log.child({ component: 'pool', app: app.name })));
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

  /** The group that serves a request. One app per instance for now; host routing comes with config files. */
  groupFor(_host: string | undefined): AppGroup {
    return this.groups[0] as AppGroup;
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

  async stop(drainDeadlineMs: number): Promise<void> {
    await Promise.all(this.groups.map((g) => g.stop(drainDeadlineMs)));
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
