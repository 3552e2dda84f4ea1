// The Prometheus text exposition of an instance: built with prom-client, which is loaded on the
// first scrape (not at start-up, where every millisecond keeps clients of a restarted core
// waiting). Collectors read the counters the core keeps anyway, once per scrape.

import type { Metric, Registry } from 'prom-client';
import type { GroupSnapshot, PoolResponse, ProcessState } from '../../lib/admin-api-contract.js';
import type { Pool } from '../pool/pool.js';
import type { RequestTracker } from '../proxy/request-tracker.js';
import type { Turbocache } from '../turbocache/turbocache.js';
import { STATUS_CLASSES, type FixedHistogram, type ResponseCounts } from '../pool/app-stats.js';

/** Prometheus text format 0.0.4 (what prom-client writes). */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsSources {
  pool: Pool;
  tracker: RequestTracker;
  /** Undefined when the turbocache is disabled: its metrics are left out. */
  cache?: Turbocache;
}

/** Process states as labels: always all of them, so a state that empties reads 0, not "gone". */
const PROCESS_STATES: readonly (ProcessState | 'spawning')[] = ['spawning', 'starting', 'ready', 'oob-work', 'draining', 'stopping'];

type Labels = Record<string, string | number>;

/** A histogram whose buckets we keep ourselves (FixedHistogram), in prom-client's metric shape. */
function histogramMetric(name: string, help: string, read: () => { labels: Labels; histogram: FixedHistogram }[]): Metric {
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: () => {
      const values: { metricName: string; labels: Labels; value: number }[] = [];
      for (const { labels, histogram } of read()) {
        for (const { le, count } of histogram.cumulative()) values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: count });
        values.push({ metricName: `${name}_sum`, labels, value: histogram.sum });
        values.push({ metricName: `${name}_count`, labels, value: histogram.count });
      }
      return Promise.resolve({ name, help, type: 'histogram', aggregator: 'sum', values });
    },
  } as unknown as Metric;
}

function responseValues(app: string, counts: ResponseCounts): { labels: Labels; value: number }[] {
  return STATUS_CLASSES.map((status, i) => ({ labels: { app, status }, value: counts.byClass[i] as number }));
}

async function buildRegistry(sources: MetricsSources, snapshot: () => PoolResponse): Promise<Registry> {
  const prom = await import('prom-client');
  const registry = new prom.Registry();
  const { pool, tracker, cache } = sources;
  const groupsByName = (): Map<string, GroupSnapshot> => new Map(snapshot().groups.map((g) => [g.name, g]));

  // Counters and gauges filled from what the core counts, afresh at every scrape.
  const counter = (name: string, help: string, labelNames: string[], read: () => { labels: Labels; value: number }[]): void => {
    new prom.Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const { labels, value } of read()) this.inc(labels, value);
      },
    });
  };
  const gauge = (name: string, help: string, labelNames: string[], read: () => { labels: Labels; value: number }[]): void => {
    new prom.Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const { labels, value } of read()) this.set(labels, value);
      },
    });
  };

  counter('ferry_requests_total', 'Requests answered, by app and status class (app is empty for requests refused before routing).', ['app', 'status'], () => [
    ...pool.groups.flatMap((g) => responseValues(g.name, g.stats.responses)),
    ...responseValues('', tracker.unrouted),
  ]);
  registry.registerMetric(
    histogramMetric('ferry_request_duration_seconds', 'Time from routing to the end of the response, for requests forwarded to an app process.', () =>
      pool.groups.map((g) => ({ labels: { app: g.name }, histogram: g.stats.latency })),
    ),
  );
  counter('ferry_compression_responses_total', 'Answers compressed whole by the core (--compression).', [], () => [{ labels: {}, value: tracker.compression.responses }]);
  counter('ferry_compression_bytes_total', 'Bytes of compressed answers, as the app sent them (in) and as they left (out).', ['direction'], () => [
    { labels: { direction: 'in' }, value: tracker.compression.bytesIn },
    { labels: { direction: 'out' }, value: tracker.compression.bytesOut },
  ]);
  gauge('ferry_requests_in_flight', 'Requests being handled by app processes now (queued ones included).', [], () => [{ labels: {}, value: tracker.inFlight }]);
  gauge('ferry_queue_requests', 'Requests waiting for a process of the app.', ['app'], () => pool.groups.map((g) => ({ labels: { app: g.name }, value: g.waiting })));
  registry.registerMetric(
    histogramMetric('ferry_queue_wait_seconds', 'Time requests that had to wait for a process spent waiting (requests served at once are not observed).', () =>
      pool.groups.map((g) => ({ labels: { app: g.name }, histogram: g.stats.queueWait })),
    ),
  );
  gauge('ferry_connections_active', 'Client connections open on the public port.', [], () => [{ labels: {}, value: tracker.connectionsActive }]);
  gauge('ferry_tunnels_open', 'Upgraded connections (WebSocket) open now, spliced to an app process.', [], () => [{ labels: {}, value: tracker.tunnelsOpen }]);
  counter('ferry_connections_accepted_total', 'Client connections accepted on the public port.', [], () => [{ labels: {}, value: tracker.connectionsAccepted }]);
  gauge('ferry_processes', 'App processes by state (spawning: being started; starting: listening, waiting for its readiness check).', ['app', 'state'], () =>
    [...groupsByName().values()].flatMap((g) =>
      PROCESS_STATES.map((state) => ({ labels: { app: g.name, state }, value: state === 'spawning' ? g.spawning : g.processes.filter((p) => p.state === state).length })),
    ),
  );
  gauge('ferry_app_available', '1 when the app can serve (a process takes requests or one is starting), 0 when its processes cannot start.', ['app'], () =>
    pool.groups.map((g) => ({ labels: { app: g.name }, value: g.canServe() ? 1 : 0 })),
  );
  counter('ferry_spawns_total', 'App processes started successfully.', ['app'], () => pool.groups.map((g) => ({ labels: { app: g.name }, value: g.stats.spawns })));
  counter('ferry_spawn_failures_total', 'App process starts that failed (exited early, timed out, could not run).', ['app'], () =>
    pool.groups.map((g) => ({ labels: { app: g.name }, value: g.stats.spawnFailures })),
  );
  counter('ferry_app_restarts_total', 'Restarts of the app (restart-app, tmp/restart.txt, tmp/always_restart.txt, --watch).', ['app'], () =>
    pool.groups.map((g) => ({ labels: { app: g.name }, value: g.stats.restarts })),
  );
  // One series per live process: at most max-pool-size of them, and a process's series ends with it.
  const processMemory = (pick: (p: GroupSnapshot['processes'][number]) => number | null) => () =>
    snapshot().groups.flatMap((g) => g.processes.flatMap((p) => (pick(p) === null ? [] : [{ labels: { app: g.name, pid: p.pid }, value: pick(p) as number }])));
  gauge('ferry_process_resident_memory_bytes', 'Resident set size of each app process, from /proc.', ['app', 'pid'], processMemory((p) => p.rssBytes));
  gauge('ferry_process_private_dirty_memory_bytes', 'Private dirty memory of each app process (what it alone costs), from /proc.', ['app', 'pid'], processMemory((p) => p.privateDirtyBytes));
  gauge('ferry_process_swap_bytes', 'Swap used by each app process, from /proc.', ['app', 'pid'], processMemory((p) => p.swapBytes));

  if (cache) {
    const stats = () => cache.inspect();
    counter('ferry_turbocache_hits_total', 'Requests answered from the turbocache.', [], () => [{ labels: {}, value: stats().hits }]);
    counter('ferry_turbocache_misses_total', 'Turbocache lookups that found nothing fresh (the app answered).', [], () => [{ labels: {}, value: stats().misses }]);
    counter('ferry_turbocache_bypassed_total', 'Requests not looked up in the turbocache, by reason.', ['reason'], () =>
      Object.entries(stats().bypassed).map(([reason, value]) => ({ labels: { reason }, value })),
    );
    counter('ferry_turbocache_not_stored_total', 'Answers the turbocache did not store, by reason.', ['reason'], () =>
      Object.entries(stats().notStored).map(([reason, value]) => ({ labels: { reason }, value })),
    );
    counter('ferry_turbocache_revalidations_total', 'Conditional requests sent to the app for stale turbocache entries, by outcome (304: confirmed; changed: a new answer).', ['outcome'], () => [
      { labels: { outcome: '304' }, value: stats().revalidated },
      { labels: { outcome: 'changed' }, value: stats().revalidations - stats().revalidated },
    ]);
    counter('ferry_turbocache_stale_served_total', 'Stale turbocache entries served, by reason (stale-while-revalidate, or in place of an app error).', ['reason'], () => [
      { labels: { reason: 'while-revalidate' }, value: stats().staleWhileRevalidate },
      { labels: { reason: 'error' }, value: stats().staleOnError },
    ]);
    gauge('ferry_turbocache_variants', 'Turbocache entries stored as a variant of their URL (Vary).', [], () => [{ labels: {}, value: stats().variants }]);
    gauge('ferry_turbocache_entries', 'Answers held in the turbocache.', [], () => [{ labels: {}, value: stats().entries }]);
    gauge('ferry_turbocache_bytes', 'Memory held by the turbocache entries.', [], () => [{ labels: {}, value: stats().bytes }]);
  }
  return registry;
}

/** Renders the metrics; prom-client is loaded on the first call. */
export function createMetricsRenderer(sources: MetricsSources): () => Promise<string> {
  let registry: Promise<Registry> | undefined;
  // One pool snapshot (it reads /proc for every process) per scrape, shared by the collectors.
  let current: PoolResponse | undefined;
  const snapshot = (): PoolResponse => (current ??= sources.pool.inspect());
  return async () => {
    registry ??= buildRegistry(sources, snapshot);
    try {
      return await (await registry).metrics();
    } finally {
      current = undefined;
    }
  };
}
