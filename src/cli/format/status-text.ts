// The text of `ferry status` (pure): passenger-status's layout, so a Passenger user reads it at a
// glance, plus the requests and server views.

import type { EvidenceSnapshot, GroupSnapshot, PoolResponse, ProcessSnapshot, RequestsResponse, ServerResponse, TurbocacheStats } from '../../lib/admin-api-contract.js';
import { formatBytes, formatMegabytes, formatPercent, formatUptime } from './units.js';

export interface TextStyle {
  /** Section headers; identity when colour is off. */
  heading(text: string): string;
}

export const PLAIN: TextStyle = { heading: (text) => text };

const pad = (value: string | number, width: number): string => String(value).padEnd(width);

export interface StatusHeader {
  version: string;
  instance: string;
  date: Date;
  /** The instance's log file, when it has one (ferry logs reads it). */
  logFile?: string | null;
}

function formatDate(date: Date): string {
  // Passenger prints "2026-11-22 20:33:10 +0000"; we print local time with its offset the same way.
  const offsetMin = -date.getTimezoneOffset();
  const sign = offsetMin >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMin);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ${sign}${two(Math.floor(abs / 60))}${two(abs % 60)}`;
}

export function formatHeader(header: StatusHeader): string[] {
  const log = header.logFile ? [`Log     : ${header.logFile}`] : [];
  return [`Version : ${header.version}`, `Date    : ${formatDate(header.date)}`, `Instance: ${header.instance} (Ferry/${header.version})`, ...log, ''];
}

/** Memory as Passenger counts it: private dirty + swap, else RSS + swap. */
function processMemory(p: ProcessSnapshot): number | null {
  if (p.privateDirtyBytes !== null) return p.privateDirtyBytes + (p.swapBytes ?? 0);
  if (p.rssBytes !== null) return p.rssBytes + (p.swapBytes ?? 0);
  return null;
}

const STATE_LINES: Partial<Record<ProcessSnapshot['state'], string>> = {
  draining: '    Draining...',
  stopping: '    Shutting down...',
};

/** A process out of rotation says why; a starting one what its readiness check got last. */
function stateLine(p: ProcessSnapshot): string | undefined {
  if (p.state === 'starting') return `    Starting (not ready: ${p.notReady ?? 'checking'})...`;
  return STATE_LINES[p.state];
}

function formatProcess(p: ProcessSnapshot, now: Date): string[] {
  const lastUsedAgo = formatUptime(now.getTime() - Date.parse(p.lastUsedAt));
  const lines = [
    `  * PID: ${pad(p.pid, 5)}   Sessions: ${pad(p.sessions, 2)}      Processed: ${pad(p.processed, 5)}   Uptime: ${formatUptime(p.uptimeMs)}`,
    `    CPU: ${pad(formatPercent(p.cpuPercent), 5)}   Memory  : ${pad(formatMegabytes(processMemory(p)), 5)}   Last used: ${lastUsedAgo} ago`,
  ];
  const line = stateLine(p);
  if (line) lines.push(line);
  return lines;
}

/** After a failed restart: who answers requests now, the processes it was to replace or none. */
function whatServes(g: GroupSnapshot, restartGeneration: number): string {
  const serving = g.processes.filter((p) => p.state === 'ready');
  if (serving.length === 0) return 'no process serves: requests get 503 while Ferry retries';
  const pids = serving.map((p) => p.pid).join(', ');
  return serving.every((p) => p.generation < restartGeneration) ? `the old processes keep serving: PID ${pids}` : `serving: PID ${pids}`;
}

/** What was kept of the last process recycled over memory-limit: where to look first. */
function formatEvidence(e: EvidenceSnapshot): string[] {
  const lines = [`  Last recycle over memory-limit: PID ${e.pid} at ${e.at}`];
  for (const file of e.files) lines.push(`    ${file}`);
  if (e.heapSnapshotSkipped) lines.push(`    (no heap snapshot: ${e.heapSnapshotSkipped})`);
  for (const failed of e.failed ?? []) lines.push(`    (not kept: ${failed})`);
  return lines;
}

function formatGroup(g: GroupSnapshot, now: Date): string[] {
  const lines = [`${g.name}:`, `  App root: ${g.root}`];
  if (g.state === 'restarting') lines.push(g.restart?.rolling ? '  (rolling restart...)' : '  (restarting...)');
  if (g.spawning > 0) lines.push(`  (spawning ${g.spawning} new process${g.spawning === 1 ? '' : 'es'}...)`);
  if (g.restart?.failed) lines.push(`  (restart failed: ${g.restart.failed})`, `  (${whatServes(g, g.restart.generation)})`);
  else if (g.state === 'backoff' && g.lastSpawnError) lines.push(`  (cannot start, retrying: ${g.lastSpawnError.message})`);
  lines.push(`  Requests in queue: ${g.waiting}`);
  if (g.lastEvidence) lines.push(...formatEvidence(g.lastEvidence));
  for (const p of g.processes) lines.push(...formatProcess(p, now));
  return lines;
}

export function formatPool(pool: PoolResponse, now: Date, style: TextStyle = PLAIN): string[] {
  const lines = [
    style.heading('----------- General information -----------'),
    `Max pool size : ${pool.maxPoolSize}`,
    `App groups    : ${pool.groups.length}`,
    `Processes     : ${pool.processCount}`,
    `Requests in top-level queue : ${pool.waiting}`,
    '',
    style.heading('----------- Application groups -----------'),
  ];
  for (const group of pool.groups) lines.push(...formatGroup(group, now));
  return lines;
}

export function formatRequests(requests: RequestsResponse, style: TextStyle = PLAIN): string[] {
  const lines = [style.heading(`----------- Requests in flight: ${requests.requests.length} -----------`)];
  if (requests.requests.length === 0) return lines;
  const rows = requests.requests.map((r) => [
    r.id,
    r.method,
    r.path,
    r.app,
    r.pid === null ? '-' : String(r.pid),
    r.state,
    formatBytes(r.bufferedMemoryBytes),
    formatBytes(r.bufferedDiskBytes),
    formatUptime(r.ageMs),
  ]);
  // BUF MEM / BUF DISK: what Ferry holds of the request for a slow client (upload and response buffering).
  const head = ['ID', 'METHOD', 'PATH', 'APP', 'PID', 'STATE', 'BUF MEM', 'BUF DISK', 'AGE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ');
  return [...lines, line(head), ...rows.map(line)];
}

export function formatServer(server: ServerResponse, style: TextStyle = PLAIN): string[] {
  const { connections, requests, turbocache } = server;
  return [
    style.heading('----------- Server -----------'),
    `Core PID      : ${server.corePid}`,
    `Uptime        : ${formatUptime(server.uptimeMs)}`,
    `Listening on  : ${server.addresses.join(' ')}`,
    `Connections   : ${connections.active} open, ${connections.accepted} accepted, ${connections.tunnels} ${connections.tunnels === 1 ? 'tunnel' : 'tunnels'} (WebSocket)`,
    `Requests      : ${requests.inFlight} in flight, ${requests.total} total, ${requests.perSecond}/s (last 10 s)`,
    `Errors        : 502: ${requests.failed['502']}, 503: ${requests.failed['503']}, 504: ${requests.failed['504']}`,
    '',
    style.heading('----------- Turbocache -----------'),
    ...formatTurbocache(turbocache),
    `Compression   : ${formatCompression(server.compression)}`,
  ];
}

/** "off", or how many answers and how much smaller they came out. */
function formatCompression(c: ServerResponse['compression']): string {
  if (!c.enabled) return 'off (--compression)';
  if (c.responses === 0) return 'on, nothing compressed yet';
  const saved = c.bytesIn === 0 ? 0 : (1 - c.bytesOut / c.bytesIn) * 100;
  return `${c.responses} answers, ${formatBytes(c.bytesIn)} to ${formatBytes(c.bytesOut)} (${saved.toFixed(1)}% saved)`;
}

/** Reasons by count, most frequent first: "set-cookie 12, vary 3"; "-" when none. */
function reasons(counts: Record<string, number>): string {
  const sorted = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return sorted.length === 0 ? '-' : sorted.map(([reason, n]) => `${reason} ${n}`).join(', ');
}

function formatTurbocache(t: TurbocacheStats): string[] {
  if (t.state === 'disabled') return ['State         : disabled (--disable-turbocaching)'];
  const ratio = t.lookups === 0 ? '-' : `${((t.hits / t.lookups) * 100).toFixed(1)}%`;
  return [
    `State         : enabled${t.varyByCookie ? `, varies by cookie ${t.varyByCookie}` : ''}`,
    `Hits / misses : ${t.hits} / ${t.misses} (hit ratio ${ratio}); ${t.collapsed} waited for another's fill`,
    `Stored        : ${t.stores} stored, ${t.invalidations} invalidated, ${t.evictions} evicted`,
    `Revalidated   : ${t.revalidated} of ${t.revalidations} stale entries confirmed by the app (304)`,
    `Served stale  : ${t.staleWhileRevalidate} while refreshing, ${t.staleOnError} in place of an app error`,
    `Entries       : ${t.entries}, ${t.variants} of them variants (Vary) (${formatMegabytes(t.bytes)} of ${formatMegabytes(t.maxBytes)})`,
    `Not looked up : ${reasons(t.bypassed)}`,
    `Not stored    : ${reasons(t.notStored)}`,
  ];
}

/** One instance in the summary `ferry status` shows when several run (`pm2 ls`'s table). */
export interface InstanceOverview {
  name: string;
  addresses: string[];
  apps: string[];
  /** serving; or why its numbers are missing: core down, not responding, not allowed. */
  state: string;
  /** Since the instance started (its watchdog), not its current core. */
  uptimeMs: number;
  processes: number | null;
  /** Requests since its core started. */
  requests: number | null;
  perSecond: number | null;
  error?: string;
}

export function formatInstances(instances: InstanceOverview[], style: TextStyle = PLAIN): string[] {
  const head = ['NAME', 'ADDRESS', 'APPS', 'STATE', 'PROCS', 'UPTIME', 'REQUESTS', 'REQ/S'];
  const dash = (n: number | null): string => (n === null ? '-' : String(n));
  const rows = instances.map((i) => [i.name, i.addresses.join(' '), i.apps.join(','), i.state, dash(i.processes), formatUptime(i.uptimeMs), dash(i.requests), dash(i.perSecond)]);
  const widths = head.map((h, col) => Math.max(h.length, ...rows.map((row) => (row[col] as string).length)));
  const line = (cells: string[]): string => cells.map((c, col) => (col === cells.length - 1 ? c : c.padEnd(widths[col] as number))).join('  ');
  const first = instances[0]?.name ?? 'NAME';
  return [style.heading(`----------- ${instances.length} Ferry instances -----------`), line(head), ...rows.map(line), '', `Details of one: ferry status --instance ${first}`];
}
