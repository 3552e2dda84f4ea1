// Memory of processes and of the instance's cgroup, read from /proc and /sys/fs/cgroup: what
// `ferry memory-stats` shows. Works with the core down; says why a number could not be read.

import fs from 'node:fs';

export interface ProcessMemory {
  vmSizeBytes: number | null;
  rssBytes: number | null;
  privateDirtyBytes: number | null;
  pssBytes: number | null;
  swapBytes: number | null;
  /** Why the numbers are missing: 'permission' (another user's process) or 'gone'. */
  unreadable?: 'permission' | 'gone';
}

function kbFields(text: string, names: readonly string[], sum = false): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(\w+):\s+(\d+) kB/.exec(line);
    if (!match || !names.includes(match[1] as string)) continue;
    const key = match[1] as string;
    out[key] = (sum ? (out[key] ?? 0) : 0) + Number(match[2]) * 1024;
  }
  return out;
}

function errorReason(err: unknown): 'permission' | 'gone' {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM' ? 'permission' : 'gone';
}

export function readProcessMemory(pid: number): ProcessMemory {
  const empty = { vmSizeBytes: null, rssBytes: null, privateDirtyBytes: null, pssBytes: null, swapBytes: null };
  let status: Record<string, number>;
  try {
    status = kbFields(fs.readFileSync(`/proc/${pid}/status`, 'utf8'), ['VmSize', 'VmRSS']);
  } catch (err) {
    return { ...empty, unreadable: errorReason(err) };
  }
  const wanted = ['Pss', 'Private_Dirty', 'Swap'] as const;
  let mapped: Record<string, number>;
  try {
    mapped = kbFields(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), wanted);
  } catch (err) {
    if (errorReason(err) === 'permission') return { ...empty, vmSizeBytes: status.VmSize ?? null, rssBytes: status.VmRSS ?? null, unreadable: 'permission' };
    try {
      // Kernels before 4.14 have no smaps_rollup: add up every mapping instead.
      mapped = kbFields(fs.readFileSync(`/proc/${pid}/smaps`, 'utf8'), wanted, true);
    } catch (err2) {
      return { ...empty, vmSizeBytes: status.VmSize ?? null, rssBytes: status.VmRSS ?? null, unreadable: errorReason(err2) };
    }
  }
  return {
    vmSizeBytes: status.VmSize ?? null,
    rssBytes: status.VmRSS ?? null,
    privateDirtyBytes: mapped.Private_Dirty ?? null,
    pssBytes: mapped.Pss ?? null,
    swapBytes: mapped.Swap ?? null,
  };
}

export interface CgroupMemory {
  path: string;
  usageBytes: number;
  /** null: no limit ("max"). */
  limitBytes: number | null;
}

/** "Unlimited" in cgroup v1 is a page-rounded 2^63; anything this large means no limit. */
const NO_LIMIT_V1 = 2 ** 60;

function readNumber(file: string): number {
  return Number(fs.readFileSync(file, 'utf8').trim());
}

/** The memory cgroup of a process (v2, or v1's memory controller): what the OOM killer weighs. */
export function readCgroupMemory(pid: number): CgroupMemory | undefined {
  let lines: string[];
  try {
    lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const v1 = lines.map((l) => l.split(':')).find((parts) => parts[1]?.split(',').includes('memory'));
  if (v1) {
    const rel = v1.slice(2).join(':').trim();
    const dir = `/sys/fs/cgroup/memory${rel === '/' ? '' : rel}`;
    try {
      const limit = readNumber(`${dir}/memory.limit_in_bytes`);
      return { path: rel, usageBytes: readNumber(`${dir}/memory.usage_in_bytes`), limitBytes: limit >= NO_LIMIT_V1 ? null : limit };
    } catch {
      // fall through to v2
    }
  }
  const v2 = lines.find((l) => l.startsWith('0::'));
  if (!v2) return undefined;
  const rel = v2.slice(3).trim();
  const dir = `/sys/fs/cgroup${rel === '/' ? '' : rel}`;
  try {
    const max = fs.readFileSync(`${dir}/memory.max`, 'utf8').trim();
    return { path: rel, usageBytes: readNumber(`${dir}/memory.current`), limitBytes: max === 'max' ? null : Number(max) };
  } catch {
    return undefined;
  }
}
