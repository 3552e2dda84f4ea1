// The process table, through ps-list (the only importer of it): who runs, with parent and command.

import psList from 'ps-list';

export interface ProcessEntry {
  pid: number;
  ppid: number;
  name: string;
  cmd: string;
}

export async function listProcesses(): Promise<ProcessEntry[]> {
  const all = await psList({ all: true });
  return all.map((p) => ({ pid: p.pid, ppid: p.ppid, name: p.name, cmd: p.cmd ?? p.name }));
}
