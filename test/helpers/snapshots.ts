// Admin API snapshots for formatter and UI tests: fixed numbers, fixed times.

import type { PoolResponse, ProcessSnapshot, ServerResponse } from '../../src/lib/admin-api-contract.js';

export const NOW = new Date('2026-11-22T20:33:10Z');

export function processSnapshot(overrides: Partial<ProcessSnapshot> = {}): ProcessSnapshot {
  return {
    pid: 9106,
    state: 'ready',
    sessions: 0,
    processed: 4,
    generation: 0,
    spawnedAt: '2026-11-22T20:33:01Z',
    uptimeMs: 9_000,
    lastUsedAt: '2026-11-22T20:33:10Z',
    spawnDurationMs: 80,
    cpuPercent: 1.2,
    cpuTimeMs: 108,
    errors5xx: 0,
    rssBytes: 44 * 1024 * 1024,
    privateDirtyBytes: 9 * 1024 * 1024,
    swapBytes: 0,
    ...overrides,
  };
}

export const POOL: PoolResponse = {
  maxPoolSize: 3,
  processCount: 2,
  waiting: 1,
  groups: [
    {
      name: 'demo',
      root: '/srv/demo',
      state: 'running',
      generation: 0,
      minInstances: 1,
      waiting: 1,
      spawning: 0,
      restarts: 0,
      crashes: 0,
      processes: [
        processSnapshot(),
        processSnapshot({ pid: 12889, sessions: 1, processed: 0, uptimeMs: 71_000, lastUsedAt: '2026-11-22T20:33:09Z', cpuPercent: 0, privateDirtyBytes: 10 * 1024 * 1024, swapBytes: 512 * 1024, state: 'draining' }),
      ],
    },
  ],
};

export const SERVER: ServerResponse = {
  version: '0.1.0',
  instance: 'k3x9ab12',
  corePid: 4242,
  startedAt: '2026-11-22T19:33:10Z',
  uptimeMs: 3_600_000,
  addresses: ['http://127.0.0.1:3000/'],
  connections: { active: 3, accepted: 120, tunnels: 1 },
  requests: { inFlight: 2, total: 5000, perSecond: 42.5, failed: { '502': 1, '503': 0, '504': 0 } },
  turbocache: {
    state: 'enabled',
    varyByCookie: 'user_id',
    lookups: 100,
    hits: 90,
    misses: 10,
    stores: 8,
    invalidations: 1,
    evictions: 0,
    collapsed: 4,
    revalidations: 3,
    revalidated: 2,
    variants: 2,
    staleWhileRevalidate: 5,
    staleOnError: 1,
    entries: 7,
    bytes: 3 * 1024 * 1024,
    maxBytes: 64 * 1024 * 1024,
    maxEntryBytes: 1024 * 1024,
    bypassed: { method: 4, authorization: 1 },
    notStored: { 'set-cookie': 2 },
  },  compression: { enabled: true, responses: 10, bytesIn: 2_000_000, bytesOut: 500_000 },

};
