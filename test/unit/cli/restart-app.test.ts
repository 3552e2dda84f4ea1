import { describe, expect, it } from 'vitest';
import type { GroupSnapshot, ProcessSnapshot, RestartAppResponse } from '../../../src/lib/admin-api-contract.js';
import { judgeRestart } from '../../../src/cli/restart-app.js';

function proc(pid: number, generation: number, state: ProcessSnapshot['state'] = 'ready'): ProcessSnapshot {
  return { pid, state, generation, sessions: 0, processed: 0, spawnedAt: '', uptimeMs: 0, lastUsedAt: '', spawnDurationMs: 0, cpuPercent: null, cpuTimeMs: null, rssBytes: null, privateDirtyBytes: null, swapBytes: null };
}

function group(processes: ProcessSnapshot[], extra: Partial<GroupSnapshot> = {}): GroupSnapshot {
  return { name: 'web', root: '/srv/web', state: 'running', generation: 1, minInstances: 2, waiting: 0, spawning: 0, processes, restarts: 0, crashes: 0, ...extra };
}

const RESTART: RestartAppResponse = { app: 'web', rolling: true, generation: 1, replacing: [10, 11] };

describe('judgeRestart', () => {
  it('is done when only new-generation processes serve, at least the minimum', () => {
    expect(judgeRestart(group([proc(20, 1), proc(21, 1)]), RESTART)).toEqual({ kind: 'done', newPids: [20, 21] });
  });

  it('is in progress while an old process is still listed, counting the replaced ones', () => {
    const g = group([proc(10, 0, 'draining'), proc(11, 0), proc(20, 1)], { state: 'restarting', restart: { rolling: true, generation: 1, startedAt: '' } });
    expect(judgeRestart(g, RESTART)).toEqual({ kind: 'in-progress', replaced: 1, total: 2 });
  });

  it('is in progress while fewer new processes than the minimum serve', () => {
    expect(judgeRestart(group([proc(20, 1)]), RESTART).kind).toBe('in-progress');
  });

  it('has failed when the core says the rolling restart stopped', () => {
    const g = group([proc(10, 0), proc(11, 0)], { restart: { rolling: true, generation: 1, startedAt: '', failed: 'app exited with code 1' } });
    expect(judgeRestart(g, RESTART)).toEqual({ kind: 'failed', reason: 'app exited with code 1' });
  });

  it('has failed when the group is backing off after a spawn error', () => {
    const g = group([], { state: 'backoff', lastSpawnError: { code: 'FERRY_ERR_SPAWN_EXITED', message: 'boom', at: '' }, restart: { rolling: false, generation: 1, startedAt: '' } });
    expect(judgeRestart(g, { ...RESTART, rolling: false })).toEqual({ kind: 'failed', reason: 'boom' });
  });

  it('has failed when a newer restart superseded it', () => {
    expect(judgeRestart(group([proc(30, 2), proc(31, 2)], { generation: 2 }), RESTART).kind).toBe('failed');
  });
});
