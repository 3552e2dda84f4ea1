// ferry status's work, shared by the oclif command and the fast path: fetch the view from the
// admin API and turn it into text. Imports nothing heavy (no oclif, no ink, no chalk).

import type { PoolResponse, RequestsResponse, ServerResponse } from '../lib/admin-api-contract.js';
import { defaultRegistryDir, scanRegistry, type InstanceInfo } from '../lib/instance-registry.js';
import { FERRY_VERSION } from '../lib/paths.js';
import { AdminClient } from './admin-client.js';
import { CliError } from './errors.js';
import { formatHeader, formatInstances, formatPool, formatRequests, formatServer, type InstanceOverview, type TextStyle } from './format/status-text.js';
import { locateInstance } from './locate-instance.js';

export const STATUS_VIEWS = ['pool', 'requests', 'server'] as const;
export type StatusView = (typeof STATUS_VIEWS)[number];

/** What `ferry status --json` prints for each view: the admin API's shape plus who answered. */
type Who = { instance: string; version: string; logFile?: string | null };
export type StatusResult =
  | ({ view: 'pool' } & Who & PoolResponse)
  | ({ view: 'requests' } & Who & RequestsResponse)
  | ({ view: 'server' } & Who & ServerResponse)
  /** Several instances run and none was named: one line each, as `pm2 ls`. */
  | { view: 'instances'; version: string; registryDir: string; instances: InstanceOverview[] };

export interface StatusTargetOptions {
  registryDir?: string;
  name?: string;
  view: StatusView;
}

/**
 * The instance `ferry status` shows, or all of them: with several running and none named, the
 * pool view becomes the summary of all (the other views need one instance, and say so).
 */
export function locateStatusTarget(opts: StatusTargetOptions): InstanceInfo | { registryDir: string; instances: InstanceInfo[] } {
  const registryDir = opts.registryDir ?? defaultRegistryDir();
  if (opts.name === undefined) {
    // One scan for the common case: the only instance is the one (locateInstance would scan again).
    const { live } = scanRegistry(registryDir);
    if (live.length === 1) return live[0] as InstanceInfo;
    if (live.length > 1 && opts.view === 'pool') return { registryDir, instances: live };
  }
  return locateInstance({ registryDir, name: opts.name });
}

/** One summary line's numbers from an instance's admin API; a core that does not answer gets its reason instead. */
async function summarize(instance: InstanceInfo, timeoutMs: number, now: number): Promise<InstanceOverview> {
  const { properties } = instance;
  const base = { name: instance.name, addresses: properties.addresses, apps: properties.apps.map((a) => a.name), uptimeMs: now - Date.parse(properties.created_at) };
  const client = new AdminClient(instance, timeoutMs);
  try {
    const [pool, server] = await Promise.all([client.call<PoolResponse>('pool'), client.call<ServerResponse>('server')]);
    return { ...base, state: 'serving', processes: pool.processCount, requests: server.requests.total, perSecond: server.requests.perSecond };
  } catch (err) {
    const state = err instanceof CliError && err.code === 'FERRY_ERR_CORE_NOT_RESPONDING' ? 'not responding' : err instanceof CliError && err.code === 'FERRY_ERR_ADMIN_UNAUTHORIZED' ? 'not allowed' : 'core down';
    return { ...base, state, processes: null, requests: null, perSecond: null, error: (err as Error).message };
  }
}

export async function fetchInstancesSummary(registryDir: string, instances: InstanceInfo[], timeoutMs: number): Promise<StatusResult> {
  const now = Date.now();
  return { view: 'instances', version: FERRY_VERSION, registryDir, instances: await Promise.all(instances.map((i) => summarize(i, timeoutMs, now))) };
}

export async function fetchStatus(client: AdminClient, view: StatusView): Promise<StatusResult> {
  // Where the log is (null: the terminal of its ferry start), as the registry says; older instances do not say.
  const logFile = client.instance.properties.log_file;
  const who: Who = { instance: client.instance.name, version: FERRY_VERSION, ...(logFile !== undefined ? { logFile } : {}) };
  switch (view) {
    case 'pool':
      return { view, ...who, ...(await client.call<PoolResponse>('pool')) };
    case 'requests':
      return { view, ...who, ...(await client.call<RequestsResponse>('requests')) };
    case 'server':
      return { view, ...who, ...(await client.call<ServerResponse>('server')) };
  }
}

export function renderStatusText(result: StatusResult, opts: { header: boolean; style: TextStyle; now: Date }): string {
  if (result.view === 'instances') return formatInstances(result.instances, opts.style).join('\n') + '\n';
  const lines = opts.header ? formatHeader({ version: result.version, instance: result.instance, date: opts.now, logFile: result.logFile }) : [];
  if (result.view === 'pool') lines.push(...formatPool(result, opts.now, opts.style));
  else if (result.view === 'requests') lines.push(...formatRequests(result, opts.style));
  else lines.push(...formatServer(result, opts.style));
  return lines.join('\n') + '\n';
}

/** Colour only for a person at a terminal that has not asked for none. */
export function wantsColor(stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && env.NO_COLOR === undefined && env.CI === undefined;
}

/** Section headers as Passenger draws them on a terminal: bold yellow on blue. */
export const ANSI_STYLE: TextStyle = { heading: (text) => `\u001b[1;33;44m${text}\u001b[0m` };
