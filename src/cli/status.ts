// ferry status's work, shared by the oclif command and the fast path: fetch the view from the
// admin API and turn it into text. Imports nothing heavy (no oclif, no ink, no chalk).

import type { PoolResponse, RequestsResponse, ServerResponse } from '../lib/admin-api-contract.js';
import { FERRY_VERSION } from '../lib/paths.js';
import type { AdminClient } from './admin-client.js';
import { formatHeader, formatPool, formatRequests, formatServer, type TextStyle } from './format/status-text.js';

export const STATUS_VIEWS = ['pool', 'requests', 'server'] as const;
export type StatusView = (typeof STATUS_VIEWS)[number];

/** What `ferry status --json` prints for each view: the admin API's shape plus who answered. */
type Who = { instance: string; version: string; logFile?: string | null };
export type StatusResult = ({ view: 'pool' } & Who & PoolResponse) | ({ view: 'requests' } & Who & RequestsResponse) | ({ view: 'server' } & Who & ServerResponse);

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
