// The Spawner interface: start one app process and hand it over once it accepts requests.

import type { ChildProcess } from 'node:child_process';
import type { AppConfig } from '../../lib/config.js';

/** Where an app process accepts HTTP: a unix socket (node loader) or a loopback port (generic). */
export type UpstreamAddress = { socketPath: string } | { host: string; port: number };

export function describeUpstream(address: UpstreamAddress): string {
  return 'socketPath' in address ? `unix:${address.socketPath}` : `http://${address.host}:${address.port}`;
}

export interface SpawnedProcess {
  pid: number;
  address: UpstreamAddress;
  /** Node apps: the inspector's URL once SIGUSR1 opened it (for JS stacks of stuck processes). */
  inspectorUrl?: () => string | undefined;
  child: ChildProcess;
  spawnDurationMs: number;
}

export interface Spawner {
  spawn(app: AppConfig): Promise<SpawnedProcess>;
}
