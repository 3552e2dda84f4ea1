// ferry memory-stats's work: find front web servers and every Ferry process (through the
// registry, and by command line for instances it cannot see), read their memory from /proc,
// and lay it out like passenger-memory-stats. Needs no running core.

import { readCgroupMemory, readProcessMemory, type CgroupMemory, type ProcessMemory } from '../lib/diagnostics/memory.js';
import { listProcesses, type ProcessEntry } from '../lib/diagnostics/process-table.js';
import { defaultRegistryDir, readWorkerRecords, scanRegistry } from '../lib/instance-registry.js';
import { FERRY_VERSION } from '../lib/paths.js';
import { locateInstance } from './locate-instance.js';

export interface MemoryRow extends ProcessMemory {
  pid: number;
  ppid: number;
  /** What it is: "watchdog (instance k3x9)", "app web (instance k3x9)", or the command. */
  name: string;
}

export interface MemorySection {
  title: string;
  processes: MemoryRow[];
  totalPrivateDirtyBytes: number;
  totalPssBytes: number;
  /** Processes whose numbers could not be read. */
  unreadable: number;
}

export interface MemoryStatsResult {
  version: string;
  sections: MemorySection[];
  instances: { name: string; watchdogPid: number; cgroup: CgroupMemory | null }[];
  notes: string[];
}

/** Ferry's processes by their command line: the bundles `npm run build` makes, the compiled tree, the loaders. */
const FERRY_COMMAND = /dist\/bundle\/ferry-(watchdog|core)\.mjs|dist\/core\/(watchdog\/)?main\.js|node-loader\.cjs|[wa]sgi-loader\.py|rack-loader\.rb/;

function section(title: string, rows: MemoryRow[]): MemorySection {
  let totalPrivateDirtyBytes = 0;
  let totalPssBytes = 0;
  let unreadable = 0;
  for (const row of rows) {
    if (row.unreadable) unreadable++;
    totalPrivateDirtyBytes += row.privateDirtyBytes ?? 0;
    totalPssBytes += row.pssBytes ?? 0;
  }
  return { title, processes: rows, totalPrivateDirtyBytes, totalPssBytes, unreadable };
}

/** Sorts processes into front web servers and Ferry's, naming Ferry's by role and instance (pure). */
export function classifyProcesses(
  table: ProcessEntry[],
  instances: { name: string; watchdogPid: number; corePid: number | null; workers: { pid: number; app: string }[] }[],
): { nginx: ProcessEntry[]; apache: ProcessEntry[]; ferry: { entry: ProcessEntry; label: string; known: boolean }[] } {
  const roles = new Map<number, string>();
  for (const inst of instances) {
    roles.set(inst.watchdogPid, `watchdog (instance ${inst.name})`);
    if (inst.corePid) roles.set(inst.corePid, `core (instance ${inst.name})`);
    for (const w of inst.workers) roles.set(w.pid, `app ${w.app} (instance ${inst.name})`);
  }
  const nginx: ProcessEntry[] = [];
  const apache: ProcessEntry[] = [];
  const ferry: { entry: ProcessEntry; label: string; known: boolean }[] = [];
  for (const entry of table) {
    const role = roles.get(entry.pid);
    if (role) ferry.push({ entry, label: role, known: true });
    else if (FERRY_COMMAND.test(entry.cmd)) ferry.push({ entry, label: `${entry.cmd.slice(0, 80)} (instance not visible)`, known: false });
    else if (entry.name === 'nginx' || entry.cmd.startsWith('nginx:')) nginx.push(entry);
    else if (entry.name === 'apache2' || entry.name === 'httpd') apache.push(entry);
  }
  ferry.sort((a, b) => a.entry.pid - b.entry.pid);
  return { nginx, apache, ferry };
}

/** `instanceName`: only that instance's processes in the Ferry section (the front servers stay). */
export async function collectMemoryStats(registryDir = defaultRegistryDir(), instanceName?: string): Promise<MemoryStatsResult> {
  const live = instanceName === undefined ? scanRegistry(registryDir).live : [locateInstance({ registryDir, name: instanceName })];
  const instances = live.map((i) => ({
    name: i.name,
    watchdogPid: i.properties.watchdog_pid,
    corePid: i.properties.core_pid,
    workers: readWorkerRecords(i.dir).map((r) => ({ pid: r.pid, app: r.app })),
  }));
  const table = (await listProcesses()).filter((p) => p.pid !== process.pid);
  const classified = classifyProcesses(table, instances);
  const { nginx, apache } = classified;
  // One instance asked for: Ferry processes of instances it cannot see are not its.
  const ferry = instanceName === undefined ? classified.ferry : classified.ferry.filter((f) => f.known);
  const row = (entry: ProcessEntry, name: string): MemoryRow => ({ pid: entry.pid, ppid: entry.ppid, name, ...readProcessMemory(entry.pid) });
  const sections = [
    section('Apache processes', apache.map((e) => row(e, e.cmd))),
    section('Nginx processes', nginx.map((e) => row(e, e.cmd))),
    section('Ferry processes', ferry.map(({ entry, label }) => row(entry, label))),
  ];
  const notes: string[] = [];
  if (instances.length === 0) notes.push(`No Ferry instance is running (looked in ${registryDir}); showing what could be found.`);
  const unreadable = sections.reduce((n, s) => n + s.unreadable, 0);
  if (unreadable > 0) {
    notes.push(`Could not read the memory of ${unreadable} process(es) (permission): run as root or as their owner to see them; they show as "?".`);
  }
  return {
    version: FERRY_VERSION,
    sections,
    instances: instances.map((i) => ({ name: i.name, watchdogPid: i.watchdogPid, cgroup: readCgroupMemory(i.watchdogPid) ?? null })),
    notes,
  };
}

const mb = (bytes: number | null): string => (bytes === null ? '?' : `${(bytes / (1024 * 1024)).toFixed(1)} MB`);

/** Text in passenger-memory-stats's layout, with PSS and swap added (pure). */
export function formatMemoryStats(result: MemoryStatsResult, now: Date): string {
  const lines = [`Version : ${result.version}`, `Date    : ${now.toISOString()}`, ''];
  for (const s of result.sections) {
    const title = `------------- ${s.title} -------------`;
    lines.push(title);
    const head = ['PID', 'PPID', 'VMSize', 'RSS', 'Private', 'PSS', 'Swap', 'Name'];
    const rows = s.processes.map((p) => [String(p.pid), String(p.ppid), mb(p.vmSizeBytes), mb(p.rssBytes), mb(p.privateDirtyBytes), mb(p.pssBytes), mb(p.swapBytes), p.name]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
    const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ');
    if (rows.length > 0) lines.push(line(head), ...rows.map(line));
    lines.push(`### Processes: ${s.processes.length}`);
    lines.push(`### Total private dirty RSS: ${(s.totalPrivateDirtyBytes / (1024 * 1024)).toFixed(2)} MB${s.unreadable > 0 ? ' (?)' : ''}`);
    lines.push('');
  }
  for (const inst of result.instances) {
    const cg = inst.cgroup;
    lines.push(
      cg
        ? `### Instance ${inst.name}: cgroup ${cg.path} uses ${mb(cg.usageBytes)}, limit ${cg.limitBytes === null ? 'none' : mb(cg.limitBytes)}`
        : `### Instance ${inst.name}: cgroup memory not available`,
    );
  }
  for (const note of result.notes) lines.push(`*** ${note}`);
  return lines.join('\n') + '\n';
}

