// ferry restart-app's work: ask the core to restart an app group, then (with --wait) follow the
// pool until every process belongs to the new generation, or the restart failed, or time ran out.

import type { GroupSnapshot, PoolResponse, RestartAppResponse } from '../lib/admin-api-contract.js';
import { sleep } from '../lib/units.js';
import type { AdminClient } from './admin-client.js';
import { CliError } from './errors.js';

export type RestartOutcome =
  /** Every process now belongs to the new generation and the minimum serves. */
  | { kind: 'done'; newPids: number[] }
  /** Still replacing processes. */
  | { kind: 'in-progress'; replaced: number; total: number }
  /** A new process failed to start; for a rolling restart the old ones keep serving. */
  | { kind: 'failed'; reason: string };

/** Where a restart stands, from one pool snapshot (pure). */
export function judgeRestart(group: GroupSnapshot, restart: RestartAppResponse): RestartOutcome {
  if (group.restart?.failed) return { kind: 'failed', reason: group.restart.failed };
  if (group.generation > restart.generation) return { kind: 'failed', reason: 'another restart replaced this one before it finished' };
  const current = group.processes.filter((p) => p.generation >= restart.generation && p.state === 'ready');
  const oldLeft = group.processes.filter((p) => p.generation < restart.generation);
  if (oldLeft.length === 0 && current.length >= Math.max(1, group.minInstances) && !group.restart) {
    return { kind: 'done', newPids: current.map((p) => p.pid) };
  }
  if (group.state === 'backoff' && group.lastSpawnError) return { kind: 'failed', reason: group.lastSpawnError.message };
  const total = Math.max(restart.replacing.length, 1);
  const replaced = restart.replacing.filter((pid) => !group.processes.some((p) => p.pid === pid && p.state === 'ready')).length;
  return { kind: 'in-progress', replaced, total };
}

export interface RestartAppResult {
  app: string;
  rolling: boolean;
  generation: number;
  replaced: number[];
  newPids: number[];
  outcome: 'accepted' | 'done';
  durationMs: number;
}

export async function restartApp(
  client: AdminClient,
  opts: { app?: string; rolling: boolean; wait: boolean; waitTimeoutMs: number; onProgress?: (outcome: RestartOutcome) => void },
): Promise<RestartAppResult> {
  const started = Date.now();
  const pool = await client.call<PoolResponse>('pool');
  const group = opts.app === undefined && pool.groups.length === 1 ? pool.groups[0] : pool.groups.find((g) => g.name === opts.app || g.root === opts.app);
  if (opts.app === undefined && !group) {
    throw new CliError('FERRY_ERR_APP_UNKNOWN', `this instance serves ${pool.groups.length} apps; name the one to restart`, [
      `Known: ${pool.groups.map((g) => `${g.name} (${g.root})`).join(', ')}`,
    ]);
  }
  // Unknown names are the core's to judge (it lists the known ones); the name goes as given.
  const name = group?.name ?? (opts.app as string);
  const restart = await client.call<RestartAppResponse>('restartApp', { name }, { rolling: opts.rolling });
  const result: RestartAppResult = { app: restart.app, rolling: restart.rolling, generation: restart.generation, replaced: restart.replacing, newPids: [], outcome: 'accepted', durationMs: 0 };
  if (!opts.wait) return { ...result, durationMs: Date.now() - started };

  const deadline = started + opts.waitTimeoutMs;
  for (;;) {
    const snapshot = (await client.call<PoolResponse>('pool')).groups.find((g) => g.name === restart.app);
    if (!snapshot) throw new CliError('FERRY_ERR_RESTART_FAILED', `app '${restart.app}' disappeared during the restart`);
    const outcome = judgeRestart(snapshot, restart);
    opts.onProgress?.(outcome);
    if (outcome.kind === 'done') return { ...result, newPids: outcome.newPids, outcome: 'done', durationMs: Date.now() - started };
    if (outcome.kind === 'failed') {
      throw new CliError('FERRY_ERR_RESTART_FAILED', `restart of '${restart.app}' failed: ${outcome.reason}`, [
        restart.rolling ? 'The old processes keep serving. Fix the app, then restart again.' : 'Fix the app, then restart again; see ferry status and the log.',
      ]);
    }
    if (Date.now() > deadline) {
      throw new CliError('FERRY_ERR_WAIT_TIMEOUT', `restart of '${restart.app}' still in progress after ${Math.round(opts.waitTimeoutMs / 1000)}s (${outcome.replaced}/${outcome.total} replaced)`, [
        'It goes on in the background; follow it with ferry status.',
      ]);
    }
    await sleep(100);
  }
}
