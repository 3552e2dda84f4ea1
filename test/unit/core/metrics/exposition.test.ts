import { afterEach, describe, expect, it } from 'vitest';
import { Logger } from '../../../../src/core/log.js';
import { createMetricsRenderer } from '../../../../src/core/metrics/exposition.js';
import { Pool } from '../../../../src/core/pool/pool.js';
import { RequestTracker } from '../../../../src/core/proxy/request-tracker.js';
import { FakeSpawner } from '../../../../src/core/spawn/fake-spawner.js';
import { Turbocache } from '../../../../src/core/turbocache/turbocache.js';
import type { FerryConfig } from '../../../../src/lib/config.js';
import { TEST_APP, TEST_BUFFERING, TEST_CLIENT_LIMITS, TEST_TURBOCACHE } from '../../../helpers/app-config.js';

const pools: { pool: Pool; spawner: FakeSpawner }[] = [];

afterEach(async () => {
  for (const { pool, spawner } of pools.splice(0)) {
    const stopped = pool.stop(0);
    spawner.exitAll();
    await stopped;
  }
});

async function startedPool(): Promise<{ pool: Pool; spawner: FakeSpawner }> {
  const config: FerryConfig = {
    listen: { kind: 'tcp', address: '127.0.0.1', port: 3000 },
    maxPoolSize: 4,
    logLevel: 'error',
    shutdownTimeoutMs: 5_000,
    apps: [{ ...TEST_APP, name: 'web' }],
    turbocache: TEST_TURBOCACHE,
    clientLimits: TEST_CLIENT_LIMITS,
    buffering: TEST_BUFFERING,
    websocketIdleTimeoutMs: 60_000,
  };
  const spawner = new FakeSpawner();
  const pool = new Pool(config, spawner, new Logger({ level: 'error', format: 'json', sink: { write: () => undefined } }));
  pools.push({ pool, spawner });
  await pool.start();
  return { pool, spawner };
}

/** The value of one sample line, by its exact name and labels. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createMetricsRenderer', () => {
  it('reports requests by app and status class, and the requests refused before routing under app=""', async () => {
    const { pool } = await startedPool();
    const tracker = new RequestTracker();
    const web = pool.groups[0];
    if (!web) throw new Error('no group');
    for (const status of [200, 200, 304, 502]) web.stats.responses.count(status);
    tracker.countAnswered(404);
    const text = await createMetricsRenderer({ pool, tracker })();
    expect(sample(text, 'ferry_requests_total{app="web",status="2xx"}')).toBe(2);
    expect(sample(text, 'ferry_requests_total{app="web",status="3xx"}')).toBe(1);
    expect(sample(text, 'ferry_requests_total{app="web",status="5xx"}')).toBe(1);
    expect(sample(text, 'ferry_requests_total{app="",status="4xx"}')).toBe(1);
  });

  it('reports the same counts on every scrape (counters are read, not added up again)', async () => {
    const { pool } = await startedPool();
    const render = createMetricsRenderer({ pool, tracker: new RequestTracker() });
    pool.groups[0]?.stats.responses.count(200);
    await render();
    const second = await render();
    expect(sample(second, 'ferry_requests_total{app="web",status="2xx"}')).toBe(1);
    expect(sample(second, 'ferry_spawns_total{app="web"}')).toBe(1);
  });

  it('writes the latency histogram with cumulative buckets, sum and count', async () => {
    const { pool } = await startedPool();
    const web = pool.groups[0];
    if (!web) throw new Error('no group');
    for (const s of [0.003, 0.02, 0.02, 7]) web.stats.latency.observe(s);
    const text = await createMetricsRenderer({ pool, tracker: new RequestTracker() })();
    expect(text).toContain('# TYPE ferry_request_duration_seconds histogram');
    expect(sample(text, 'ferry_request_duration_seconds_bucket{app="web",le="0.005"}')).toBe(1);
    expect(sample(text, 'ferry_request_duration_seconds_bucket{app="web",le="0.025"}')).toBe(3);
    expect(sample(text, 'ferry_request_duration_seconds_bucket{app="web",le="5"}')).toBe(3);
    expect(sample(text, 'ferry_request_duration_seconds_bucket{app="web",le="+Inf"}')).toBe(4);
    expect(sample(text, 'ferry_request_duration_seconds_count{app="web"}')).toBe(4);
    expect(sample(text, 'ferry_request_duration_seconds_sum{app="web"}')).toBeCloseTo(7.043);
  });

  it('counts spawns, spawn failures and restarts, and shows processes by state', async () => {
    const { pool, spawner } = await startedPool();
    const web = pool.groups[0];
    if (!web) throw new Error('no group');
    spawner.failNext(1, 'exited-before-ready');
    spawner.hang();
    web.restart(false);
    const render = createMetricsRenderer({ pool, tracker: new RequestTracker() });
    const during = await render();
    expect(sample(during, 'ferry_app_restarts_total{app="web"}')).toBe(1);
    expect(sample(during, 'ferry_processes{app="web",state="spawning"}')).toBe(1);
    expect(sample(during, 'ferry_processes{app="web",state="ready"}')).toBe(0);
    spawner.release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const after = await render();
    expect(sample(after, 'ferry_spawn_failures_total{app="web"}')).toBe(1);
    expect(sample(after, 'ferry_app_available{app="web"}')).toBe(0);
  });

  it('reports open connections and, among them, the tunnels (WebSocket)', async () => {
    const { pool } = await startedPool();
    const tracker = new RequestTracker();
    tracker.connectionsActive = 3;
    tracker.begin('ws', 'GET', '/ws', 'web').state = 'tunnel';
    tracker.begin('plain', 'GET', '/', 'web');
    const text = await createMetricsRenderer({ pool, tracker })();
    expect(sample(text, 'ferry_connections_active')).toBe(3);
    expect(sample(text, 'ferry_tunnels_open')).toBe(1);
  });

  it('includes the turbocache metrics only when the turbocache is on', async () => {
    const { pool } = await startedPool();
    const tracker = new RequestTracker();
    expect(await createMetricsRenderer({ pool, tracker })()).not.toContain('ferry_turbocache');
    const cache = new Turbocache({ maxBytes: 1024 * 1024, maxEntryBytes: 1024 });
    cache.countBypass('authorization');
    const text = await createMetricsRenderer({ pool, tracker, cache })();
    expect(sample(text, 'ferry_turbocache_bypassed_total{reason="authorization"}')).toBe(1);
    expect(sample(text, 'ferry_turbocache_hits_total')).toBe(0);
  });
});
