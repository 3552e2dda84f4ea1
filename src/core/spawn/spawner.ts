// The Spawner interface: start one app process and hand it over once it accepts requests.

import type { ChildProcess } from 'node:child_process';
import type { AppConfig } from '../../lib/config.js';

export interface SpawnedProcess {
  pid: number;
  /** The unix socket the process accepts HTTP on. */
  socketPath: string;
  child: ChildProcess;
  spawnDurationMs: number;
}

export interface Spawner {
  spawn(app: AppConfig): Promise<SpawnedProcess>;
}
