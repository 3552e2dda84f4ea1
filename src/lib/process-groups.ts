// Which processes are still alive in a set of process groups, read from /proc. Used to prove
// that a stop left nothing behind, including what app processes spawned themselves.

import fs from 'node:fs';

/** Parses /proc/PID/stat: the command may hold spaces and parentheses, so split after the last ')'. */
export function parseStatGroup(stat: string): { ppid: number; pgid: number; state: string } | undefined {
  const end = stat.lastIndexOf(')');
  if (end < 0) return undefined;
  const fields = stat.slice(end + 2).split(' ');
  const [state, ppid, pgid] = [fields[0], Number(fields[1]), Number(fields[2])];
  if (state === undefined || Number.isNaN(ppid) || Number.isNaN(pgid)) return undefined;
  return { state, ppid, pgid };
}

/** Pids of live (non-zombie) processes whose group is one of `pgids`. */
export function listGroupMembers(pgids: ReadonlySet<number>): number[] {
  const members: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return members;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const parsed = parseStatGroup(stat);
    if (parsed && parsed.state !== 'Z' && pgids.has(parsed.pgid)) members.push(Number(entry));
  }
  return members;
}

/**
 * True while the process runs. Unlike kill(pid, 0), a zombie counts as gone: when the parent is
 * an init that does not reap (some containers), a dead process would otherwise look alive forever.
 */
export function isProcessRunning(pid: number): boolean {
  try {
    const parsed = parseStatGroup(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return parsed !== undefined && parsed.state !== 'Z';
  } catch {
    return false;
  }
}
