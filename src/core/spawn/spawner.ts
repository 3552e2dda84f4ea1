// The Spawner interface: start one app process and hand it over once it accepts requests.

import type { AppConfig } from '../../lib/config.js';

/** Where an app process accepts HTTP: a unix socket (node loader) or a loopback port (generic). */
export type UpstreamAddress = { socketPath: string } | { host: string; port: number };

export function describeUpstream(address: UpstreamAddress): string {
  return 'socketPath' in address ? `unix:${address.socketPath}` : `http://${address.host}:${address.port}`;
}

/** The inverse of describeUpstream (for the records an earlier core wrote); undefined if malformed. */
export function parseUpstream(text: string): UpstreamAddress | undefined {
  if (text.startsWith('unix:')) return { socketPath: text.slice('unix:'.length) };
  const match = /^http:\/\/([^/]+):(\d+)$/.exec(text);
  return match ? { host: match[1] as string, port: Number(match[2]) } : undefined;
}

/**
 * What the pool needs of a worker's OS process: how it ends. A ChildProcess when this core spawned it,
 * an AdoptedProcess when a previous core did.
 */
export interface WorkerChild {
  readonly pid?: number | undefined;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
}

/** A worker the spawner started (or adopted) and that accepts requests: the pool makes a WorkerProcess of it. */
export interface SpawnedWorker {
  pid: number;
  address: UpstreamAddress;
  /** Node apps: the inspector's URL once SIGUSR1 opened it (for JS stacks of stuck processes). */
  inspectorUrl?: () => string | undefined;
  child: WorkerChild;
  /** Its last lines of output, oldest first (the spawner keeps them while it reads the output). */
  recentOutput?: () => string[];
  spawnDurationMs: number;
  /** When it was started (by this core or, for an adopted one, an earlier core). */
  startedAtMs?: number;
}

export interface Spawner {
  spawn(app: AppConfig): Promise<SpawnedWorker>;
  /**
   * The app's processes that an earlier core of this instance left serving (it crashed, or handed
   * over in `ferry restart`), checked and taken over; those that fail the checks are killed.
   */
  adopt?(app: AppConfig): Promise<SpawnedWorker[]>;
  /** The process left rotation for good: a core taking over must not adopt it. */
  markLeaving?(pid: number): void;
  /** The process passed its readiness check (an app with --readiness-path): a core taking over may adopt it from now on. */
  markReady?(pid: number): void;
}
