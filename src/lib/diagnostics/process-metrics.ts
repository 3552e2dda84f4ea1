// CPU and memory of one process, read from /proc: what `ferry status` shows per process and
// what memory limits will check. Works with the core down, so it lives in lib.

import fs from 'node:fs';
import { parseStatGroup } from '../process-groups.js';

/** Clock ticks per second of /proc/PID/stat times; 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcessMetrics {
  /** Lifetime average CPU use in percent of one core, as ps prints it. */
  cpuPercent: number | null;
  /** CPU time used so far (user + system), in ms: two readings give the recent rate. */
  cpuTimeMs: number | null;
  rssBytes: number | null;
  privateDirtyBytes: number | null;
  swapBytes: number | null;
}

function readSmapsRollup(pid: number): Record<string, number> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return undefined;
  }
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(\w+):\s+(\d+) kB/.exec(line);
    if (match) out[match[1] as string] = Number(match[2]) * 1024;
  }
  return out;
}

function readCpu(pid: number): { cpuPercent: number | null; cpuTimeMs: number | null } {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (!parseStatGroup(stat)) return { cpuPercent: null, cpuTimeMs: null };
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 of proc(5): utime is 14, stime 15, starttime 22.
    const cpuTicks = Number(fields[11]) + Number(fields[12]);
    const startTicks = Number(fields[19]);
    const uptimeS = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const aliveS = uptimeS - startTicks / CLOCK_TICKS_PER_SECOND;
    const cpuTimeMs = (cpuTicks * 1000) / CLOCK_TICKS_PER_SECOND;
    if (!(aliveS > 0)) return { cpuPercent: 0, cpuTimeMs };
    return { cpuPercent: Math.round((cpuTicks / CLOCK_TICKS_PER_SECOND / aliveS) * 1000) / 10, cpuTimeMs };
  } catch {
    return { cpuPercent: null, cpuTimeMs: null };
  }
}

export function readProcessMetrics(pid: number): ProcessMetrics {
  const rollup = readSmapsRollup(pid);
  return {
    ...readCpu(pid),
    rssBytes: rollup?.Rss ?? null,
    privateDirtyBytes: rollup?.Private_Dirty ?? null,
    swapBytes: rollup?.Swap ?? null,
  };
}
