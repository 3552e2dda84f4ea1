// The live view's arithmetic (pure): recent rates from two snapshots, the selected process, which
// columns fit the terminal. Kept out of the components so it is tested without a renderer.

import type { PoolResponse, ProcessSnapshot } from '../../lib/admin-api-contract.js';

/** What one process did between two frames. null: not known yet (first frame, new process). */
export interface ProcessRates {
  /** Percent of one core over the last interval, as top shows it. */
  cpuPercent: number | null;
  /** Requests finished per second over the last interval. */
  requestsPerSecond: number | null;
}

/**
 * Rates of `cur` against its previous snapshot. The interval is the process's own uptime
 * difference (both read by the core at inspect time), so a slow admin answer does not skew it.
 */
export function processRates(prev: ProcessSnapshot | undefined, cur: ProcessSnapshot): ProcessRates {
  if (!prev || prev.pid !== cur.pid || prev.spawnedAt !== cur.spawnedAt) return { cpuPercent: null, requestsPerSecond: null };
  const intervalMs = cur.uptimeMs - prev.uptimeMs;
  if (!(intervalMs > 0)) return { cpuPercent: null, requestsPerSecond: null };
  const cpu = cur.cpuTimeMs != null && prev.cpuTimeMs != null ? Math.max(0, ((cur.cpuTimeMs - prev.cpuTimeMs) / intervalMs) * 100) : null;
  const processed = Math.max(0, cur.processed - prev.processed);
  return { cpuPercent: cpu, requestsPerSecond: (processed * 1000) / intervalMs };
}

/** Every process's rates in `cur`, keyed by pid. */
export function poolRates(prev: PoolResponse | undefined, cur: PoolResponse): Map<number, ProcessRates> {
  const before = new Map<number, ProcessSnapshot>();
  for (const group of prev?.groups ?? []) for (const p of group.processes) before.set(p.pid, p);
  const rates = new Map<number, ProcessRates>();
  for (const group of cur.groups) for (const p of group.processes) rates.set(p.pid, processRates(before.get(p.pid), p));
  return rates;
}

/** The processes in screen order (group by group), each with its app. */
export function listedProcesses(pool: PoolResponse): { app: string; pid: number }[] {
  return pool.groups.flatMap((g) => g.processes.map((p) => ({ app: g.name, pid: p.pid })));
}

/** The selected pid, kept while its process lives; else the first process (or none). */
export function currentSelection(pool: PoolResponse, selected: number | undefined): number | undefined {
  const listed = listedProcesses(pool);
  if (selected !== undefined && listed.some((p) => p.pid === selected)) return selected;
  return listed[0]?.pid;
}

/** The selection after an arrow key: one row up (-1) or down (+1), stopping at the ends. */
export function moveSelection(pool: PoolResponse, selected: number | undefined, delta: -1 | 1): number | undefined {
  const listed = listedProcesses(pool);
  if (listed.length === 0) return undefined;
  const current = currentSelection(pool, selected);
  const index = listed.findIndex((p) => p.pid === current);
  const next = Math.min(listed.length - 1, Math.max(0, index + delta));
  return listed[next]?.pid;
}

/** The selected process's app (whose log lines the pane shows); the first app when none is selected. */
export function selectedApp(pool: PoolResponse, selected: number | undefined): string | undefined {
  const pid = currentSelection(pool, selected);
  return listedProcesses(pool).find((p) => p.pid === pid)?.app ?? pool.groups[0]?.name;
}

export type ColumnId = 'pid' | 'state' | 'cpu' | 'memory' | 'rps' | 'errors' | 'sessions' | 'processed' | 'uptime';

export interface Column {
  id: ColumnId;
  title: string;
  /** Characters, the space after it included. */
  width: number;
}

/** In screen order. */
const COLUMNS: readonly Column[] = [
  { id: 'pid', title: 'PID', width: 8 },
  { id: 'state', title: 'STATE', width: 9 },
  { id: 'cpu', title: 'CPU', width: 5 },
  { id: 'memory', title: 'MEM', width: 6 },
  { id: 'rps', title: 'REQ/S', width: 7 },
  { id: 'errors', title: '5XX', width: 5 },
  { id: 'sessions', title: 'SESS', width: 5 },
  { id: 'processed', title: 'DONE', width: 8 },
  { id: 'uptime', title: 'UPTIME', width: 11 },
];

/** Which columns matter most when the terminal is narrow: the first ones always fit. */
const PRIORITY: readonly ColumnId[] = ['pid', 'cpu', 'memory', 'rps', 'errors', 'state', 'sessions', 'uptime', 'processed'];

/** The width of the selection marker in front of every row. */
export const MARKER_WIDTH = 2;

/** The columns that fit in `width` characters, by priority, shown in screen order; a header never splits. */
export function fitColumns(width: number): Column[] {
  let left = width - MARKER_WIDTH;
  const chosen = new Set<ColumnId>();
  for (const id of PRIORITY) {
    const column = COLUMNS.find((c) => c.id === id) as Column;
    if (column.width <= left) {
      chosen.add(id);
      left -= column.width;
    }
  }
  return COLUMNS.filter((c) => chosen.has(c.id));
}
