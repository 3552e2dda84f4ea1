// Pool: every app group of the instance and the global limit on processes (max-pool-size).

import type { FerryConfig } from '../../lib/config.js';
import type { Logger } from '../log.js';
import type { Spawner } from '../spawn/spawner.js';
import { AppGroup, type AppGroupSnapshot } from './app-group.js';

export class Pool {
  readonly groups: AppGroup[];

  constructor(
    private readonly config: FerryConfig,
    spawner: Spawner,
    log: Logger,
  ) {
    this.groups = config.apps.map((app) => new AppGroup(app, this, spawner, log.child({ component: 'pool', app: app.name })));
  }

  hasCapacity(): boolean {
    let total = 0;
    for (const group of this.groups) total += group.processCount;
    return total < this.config.maxPoolSize;
  }

  /** The group that serves a request. One app per instance for now; host routing comes with config files. */
  groupFor(_host: string | undefined): AppGroup {
    return this.groups[0] as AppGroup;
  }

  async start(): Promise<void> {
    await Promise.all(this.groups.map((g) => g.start()));
  }

  async stop(drainDeadlineMs: number): Promise<void> {
    await Promise.all(this.groups.map((g) => g.stop(drainDeadlineMs)));
  }

  inspect(): { maxPoolSize: number; groups: AppGroupSnapshot[] } {
    return { maxPoolSize: this.config.maxPoolSize, groups: this.groups.map((g) => g.inspect()) };
  }
}
